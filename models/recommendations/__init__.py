"""Recommendations: item-to-item neighbours built from paid orders, product views, serving."""
