"""Reports: what a head of support reads every Monday — volume, speed, misses, satisfaction.

Every figure is one SQL aggregate over the conversations *started* in the period
(:mod:`messenger.reports.queries`), in the staff member's time zone and branch scope.
"""
