package parse

import (
	"fmt"
	"slices"
)

// Config is how events are read.
type Config struct {
	// ServiceFrom orders where an event's service is read from: "fields"
	// (a structured record's service keys or resource labels), "tag" (a
	// text header's prog[pid]: tag), "bracket" (a [service] before the
	// level), "source" (the source's configured service, or the file's
	// name). The first that names one wins; a kind left out is not read.
	// When none names one, the source's name is used, so no event is
	// without a service.
	ServiceFrom []string `yaml:"service_from"`
}

// DefaultConfig reads the record first, then the text header, then the
// source.
func DefaultConfig() Config {
	return Config{ServiceFrom: []string{"fields", "tag", "bracket", "source"}}
}

// ServiceKinds are the values ServiceFrom takes.
var ServiceKinds = []string{"fields", "tag", "bracket", "source"}

// Validate reports an unknown or repeated kind.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, k := range c.ServiceFrom {
		known := false
		for _, v := range ServiceKinds {
			known = known || k == v
		}
		if !known {
			return fmt.Errorf("parse.service_from: %q is not one of %v", k, ServiceKinds)
		}
		if seen[k] {
			return fmt.Errorf("parse.service_from: %q given twice", k)
		}
		seen[k] = true
	}
	return nil
}

// rank is the position of kind in ServiceFrom, len+1 when left out (and
// the default order when ServiceFrom is empty).
func (c Config) rank(kind string) int {
	list := c.ServiceFrom
	if len(list) == 0 {
		list = DefaultConfig().ServiceFrom
	}
	for i, k := range list {
		if k == kind {
			return i
		}
	}
	return len(list) + 1
}

// SourceFirst reports whether the source's service wins over whatever
// the record names (ServiceFrom lists "source" before every other kind).
func (c Config) SourceFirst() bool { return c.rank("source") == 0 }

// uses reports whether kind is read at all.
func (c Config) uses(kind string) bool {
	return len(c.ServiceFrom) == 0 || slices.Contains(c.ServiceFrom, kind)
}
