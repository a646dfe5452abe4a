"""Fitted models shown as readable expressions with their numbers."""

from ax_ext.expressions.model_expression import ModelExpression, model_expression

__all__ = ["ModelExpression", "model_expression"]
