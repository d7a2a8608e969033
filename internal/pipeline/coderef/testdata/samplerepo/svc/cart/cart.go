package cart

// Cart holds the items of one order.
type Cart struct {
	items map[string]int
}

// New returns an empty cart.
func New() *Cart {
	return &Cart{}
}

// Add puts n of an item in the cart.
func (c *Cart) Add(item string, n int) {
	c.items[item] += n // BUG: items is never made, so this panics
}

// Total counts the items.
func (c *Cart) Total() int {
	t := 0
	for _, n := range c.items {
		t += n
	}
	return t
}
