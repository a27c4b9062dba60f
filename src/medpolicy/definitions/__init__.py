"""Shared clinical and billing definitions that policies call by name.

Every function here is pure and generic: drug-specific numbers (mg/kg caps, vial sizes, billing
unit sizes, code ranges) arrive as parameters read from the policy file, never as constants.
"""
