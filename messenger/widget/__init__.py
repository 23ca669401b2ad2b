"""The Widget API: what the embeddable widget (and integrators) call under /api/widget/."""
