"""Shipping rules: one tangled function, one simple one."""


def shipping_cost(weight, country, express, fragile, member, coupon, weekend):
    """Cost of a parcel; grew one branch per business request (complexity 14)."""
    cost = 5.0
    if weight > 10:
        cost += 10
    elif weight > 5:
        cost += 5
    elif weight > 1:
        cost += 2
    if country == "FR":
        cost += 1
    elif country == "DE":
        cost += 2
    elif country in ("US", "CA"):
        cost += 8
    if express and not weekend:
        cost *= 2
    if fragile:
        cost += 3
    if member:
        cost *= 0.9
    if coupon == "FREE":
        cost = 0
    for _ in range(int(weekend)):
        cost += 1
    return cost


def add(a, b):
    """Add two numbers (complexity 1)."""
    return a + b


class Cart:
    """A cart with a method over the limit."""

    def total(self, items, discount, vip, region):
        """Sum of the items with conditions (complexity 11)."""
        result = 0
        for item in items:
            if item.price > 100 and vip:
                result += item.price * 0.8
            elif item.price > 50:
                result += item.price * 0.9
            else:
                result += item.price
            if region == "EU" or region == "UK":
                result += 1
        if discount:
            result -= discount
        while result < 0:
            result += 1
        assert result >= 0
        return result if result else 0
