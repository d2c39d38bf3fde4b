"""The variants stage (:func:`gennie.variant_effects.stage.variants`): a model + a VCF → the
change in every class's probability that each variant causes."""
