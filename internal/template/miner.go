package template

import (
	"fmt"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
)

// Config tunes the miner. One configuration serves every input.
type Config struct {
	// Similarity is the share of constant tokens a line must share with a
	// template to join it (0..1).
	Similarity float64 `yaml:"similarity"`
	// MaxTemplates bounds memory; the least recently used template goes.
	MaxTemplates int `yaml:"max_templates"`
	// MaxTokens caps the tokens considered per message.
	MaxTokens int `yaml:"max_tokens"`
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Similarity <= 0 || c.Similarity > 1:
		return fmt.Errorf("template.similarity %v: want 0 < s <= 1", c.Similarity)
	case c.MaxTemplates < 1:
		return fmt.Errorf("template.max_templates %d: want at least 1", c.MaxTemplates)
	case c.MaxTokens < 1:
		return fmt.Errorf("template.max_tokens %d: want at least 1", c.MaxTokens)
	}
	return nil
}

// DefaultConfig is the one configuration used for every input.
func DefaultConfig() Config {
	return Config{Similarity: 0.5, MaxTemplates: 50000, MaxTokens: 256}
}

// Cluster is one template and the lines that matched it.
type Cluster struct {
	tokens []string
	count  int64
	text   string
	id     domain.TemplateID
	key    groupKey
	// LRU links.
	prev, next *Cluster
	seq        int64
}

// Template is the template text, variable parts as <*>.
func (c *Cluster) Template() string {
	if c.text == "" && len(c.tokens) > 0 {
		c.text = strings.Join(c.tokens, " ")
	}
	return c.text
}

// ID is the stable hash of the current template text.
func (c *Cluster) ID() domain.TemplateID {
	if c.id == "" {
		c.id = domain.NewTemplateID(c.Template())
	}
	return c.id
}

// Count is how many lines matched.
func (c *Cluster) Count() int64 { return c.count }

// Seq is the order in which the cluster was created; it never changes, so it
// identifies the cluster while its text generalises.
func (c *Cluster) Seq() int64 { return c.seq }

type groupKey struct {
	n     int
	first string
}

// Miner is an online template miner. It is not safe for concurrent use.
type Miner struct {
	cfg    Config
	groups map[groupKey][]*Cluster
	size   int
	seq    int64
	// LRU list: head is most recent.
	head, tail *Cluster
	toks       []maskedToken // scratch, reused per line
	Evicted    int64
}

// New returns a miner for a valid configuration.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Miner{cfg: cfg, groups: make(map[groupKey][]*Cluster)}, nil
}

// Len is the number of templates held.
func (m *Miner) Len() int { return m.size }

// tokenize splits on spaces and tabs into m.toks, masking each token once,
// without allocating.
func (m *Miner) tokenize(msg string) []maskedToken {
	toks := m.toks[:0]
	i := 0
	for i < len(msg) && len(toks) < m.cfg.MaxTokens {
		for i < len(msg) && (msg[i] == ' ' || msg[i] == '\t') {
			i++
		}
		if i >= len(msg) {
			break
		}
		j := i
		for j < len(msg) && msg[j] != ' ' && msg[j] != '\t' {
			j++
		}
		toks = append(toks, newMaskedToken(msg[i:j]))
		i = j
	}
	m.toks = toks
	return toks
}

// Add assigns a message to a template, creating or generalising one.
func (m *Miner) Add(msg string) *Cluster {
	toks := m.tokenize(msg)
	key := groupKey{n: len(toks)}
	if len(toks) > 0 {
		if toks[0].variable {
			key.first = Wildcard
		} else {
			key.first = toks[0].raw
		}
	}
	group := m.groups[key]
	best, bestSim, bestWild := (*Cluster)(nil), -1.0, -1
	for _, c := range group {
		sim, wild := similarity(c.tokens, toks)
		if sim > bestSim || (sim == bestSim && wild > bestWild) {
			best, bestSim, bestWild = c, sim, wild
		}
	}
	if best != nil && bestSim >= m.cfg.Similarity {
		best.merge(toks)
		best.count++
		m.touch(best)
		return best
	}
	c := &Cluster{tokens: make([]string, len(toks)), count: 1, key: key}
	for i, t := range toks {
		c.tokens[i] = strings.Clone(t.template())
	}
	m.seq++
	c.seq = m.seq
	if key.first != Wildcard {
		key.first = strings.Clone(key.first)
		c.key = key
	}
	m.groups[c.key] = append(group, c)
	m.size++
	m.pushFront(c)
	for m.size > m.cfg.MaxTemplates {
		m.evict(m.tail)
	}
	return c
}

// similarity is the share of the template's constant tokens the line
// matches; wildcards count towards the tie-break only.
func similarity(tmpl []string, toks []maskedToken) (float64, int) {
	same, wild := 0, 0
	for i, t := range tmpl {
		if t == Wildcard {
			// A wildcard matches a token that is variable by its shape;
			// against a constant word it only breaks ties.
			if toks[i].variable {
				same++
			}
			wild++
			continue
		}
		if toks[i].matches(t) {
			same++
		}
	}
	if len(tmpl) == 0 {
		return 1, 0
	}
	return float64(same) / float64(len(tmpl)), wild
}

func (c *Cluster) merge(toks []maskedToken) {
	changed := false
	for i, t := range c.tokens {
		if t == Wildcard || toks[i].matches(t) {
			continue
		}
		c.tokens[i] = Wildcard
		changed = true
	}
	if changed {
		c.text, c.id = "", ""
	}
}

func (m *Miner) pushFront(c *Cluster) {
	c.prev, c.next = nil, m.head
	if m.head != nil {
		m.head.prev = c
	}
	m.head = c
	if m.tail == nil {
		m.tail = c
	}
}

func (m *Miner) touch(c *Cluster) {
	if m.head == c {
		return
	}
	m.unlink(c)
	m.pushFront(c)
}

func (m *Miner) unlink(c *Cluster) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		m.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		m.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (m *Miner) evict(c *Cluster) {
	m.unlink(c)
	g := m.groups[c.key]
	for i, have := range g {
		if have == c {
			g = append(g[:i], g[i+1:]...)
			break
		}
	}
	if len(g) == 0 {
		delete(m.groups, c.key)
	} else {
		m.groups[c.key] = g
	}
	m.size--
	m.Evicted++
}

// Clusters returns every template, most recently used first.
func (m *Miner) Clusters() []*Cluster {
	out := make([]*Cluster, 0, m.size)
	for c := m.head; c != nil; c = c.next {
		out = append(out, c)
	}
	return out
}
