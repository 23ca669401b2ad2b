"""Branches (филиалы): units of the company that own conversations and operators."""
