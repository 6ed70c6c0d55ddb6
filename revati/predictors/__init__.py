"""Kernel-duration predictors: the native side times launches; Python predictors write its tables."""
