package template

import (
	"fmt"
	"sort"
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
	return Config{Similarity: 0.7, MaxTemplates: 50000, MaxTokens: 256}
}

// Cluster is one template and the lines that matched it.
type Cluster struct {
	tokens []string
	// hashes are the tokens' masked-form hashes, compared with a line's
	// token hashes instead of the text.
	hashes []uint64
	count  int64
	text   string
	id     domain.TemplateID
	key    groupKey
	// LRU links.
	prev, next *Cluster
	seq        int64
	// parent is the template this one was merged into.
	parent *Cluster
}

func (c *Cluster) root() *Cluster {
	for c.parent != nil {
		c = c.parent
	}
	return c
}

// Template is the template text, variable parts as <*>.
func (c *Cluster) Template() string {
	c = c.root()
	if c.text == "" && len(c.tokens) > 0 {
		c.text = strings.Join(c.tokens, " ")
	}
	return c.text
}

// ID identifies the template for good: the hash of its text when it was
// created, kept while the text generalises and after a restart (Restore).
// A template merged into another answers with the other's id.
func (c *Cluster) ID() domain.TemplateID { return c.root().id }

// Count is how many lines matched.
func (c *Cluster) Count() int64 { return c.root().count }

// Seq is the order in which the cluster was created; it never changes, so it
// identifies the cluster while its text generalises.
func (c *Cluster) Seq() int64 { return c.root().seq }

type groupKey struct {
	n     int
	first uint64 // hash of the first token's masked form
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
	byID       map[domain.TemplateID]*Cluster
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

// maxQuoted bounds a quoted string kept as one token.
const maxQuoted = 128

// tokenize splits on spaces and tabs into m.toks, masking each token once,
// without allocating.
func (m *Miner) tokenize(msg string) []maskedToken {
	toks := m.toks[:0]
	i := 0
	request := false // the token before was an access log's request line
	for i < len(msg) && len(toks) < m.cfg.MaxTokens {
		for i < len(msg) && (msg[i] == ' ' || msg[i] == '\t') {
			i++
		}
		if i >= len(msg) {
			break
		}
		j := i
		for j < len(msg) && msg[j] != ' ' && msg[j] != '\t' {
			if msg[j] == '"' {
				// A quoted string is one token, spaces and all.
				if k := strings.IndexByte(msg[j+1:], '"'); k >= 0 && k < maxQuoted {
					j += k + 2
					continue
				}
			}
			j++
		}
		tok := msg[i:j]
		switch {
		case tok[0] == '"' && isRequestLine(tok):
			toks = append(toks, requestToken(tok))
			request = true
			i = j
			continue
		case request && isStatus(tok):
			toks = append(toks, statusToken(tok))
		default:
			toks = append(toks, newMaskedToken(tok))
		}
		request = false
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
		key.first = toks[0].hash
	}
	group := m.groups[key]
	best, bestSim, bestWild := (*Cluster)(nil), -1.0, -1
	for _, c := range group {
		sim, wild := similarity(c, toks)
		if sim < m.cfg.Similarity || sim < bestSim || (sim == bestSim && wild <= bestWild) {
			continue
		}
		// The word check costs more than similarity: only for a template
		// that would otherwise win.
		if wordConflict(c.tokens, toks) {
			continue
		}
		best, bestSim, bestWild = c, sim, wild
	}
	if best != nil && bestSim >= m.cfg.Similarity {
		best.merge(toks)
		best.count++
		m.touch(best)
		return best
	}
	if c := m.mergeSiblings(group, toks); c != nil {
		c.count++
		m.touch(c)
		return c
	}
	c := &Cluster{tokens: make([]string, len(toks)), hashes: make([]uint64, len(toks)), count: 1, key: key}
	for i, t := range toks {
		c.tokens[i] = strings.Clone(t.template())
		c.hashes[i] = t.hash
	}
	c.id = domain.NewTemplateID(c.Template())
	m.insert(c)
	return c
}

func (m *Miner) insert(c *Cluster) {
	m.seq++
	c.seq = m.seq
	m.groups[c.key] = append(m.groups[c.key], c)
	m.size++
	m.pushFront(c)
	if m.byID == nil {
		m.byID = map[domain.TemplateID]*Cluster{}
	}
	m.byID[c.id] = c
	for m.size > m.cfg.MaxTemplates {
		m.evict(m.tail)
	}
}

// Restore puts back a template a previous run persisted, with its id, so
// lines that match it get that id again; the text's "<*>" are its
// variables. A template already held is returned as it is.
func (m *Miner) Restore(id domain.TemplateID, text string) *Cluster {
	if c := m.byID[id]; c != nil {
		return c
	}
	// Split as tokenize does: on spaces and tabs only.
	tokens := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(tokens) > m.cfg.MaxTokens {
		tokens = tokens[:m.cfg.MaxTokens]
	}
	c := &Cluster{tokens: tokens, hashes: make([]uint64, len(tokens)), id: id, key: groupKey{n: len(tokens)}}
	for i, t := range tokens {
		c.hashes[i] = templateTokenHash(t)
	}
	if len(tokens) > 0 {
		c.key.first = c.hashes[0]
	}
	m.insert(c)
	return c
}

// similarity is the share of the template's constant tokens the line
// matches; wildcards count towards the tie-break only.
// siblingsToMerge is how many templates differing only by a name at one
// position make that position a variable.
const siblingsToMerge = 3

// mergeSiblings handles a line kept apart from its group's templates by a
// word at one position: when enough templates already differ from it only
// by a word at that same position, the position is a variable after all
// (user names, say, rather than states) and they become one template,
// the oldest, which is returned. It returns nil otherwise.
func (m *Miner) mergeSiblings(group []*Cluster, toks []maskedToken) *Cluster {
	if len(group) < siblingsToMerge-1 {
		return nil
	}
	var counts map[int]int
	for _, c := range group {
		if p := onlyWordDiff(c, toks); p >= 0 {
			if counts == nil {
				counts = map[int]int{}
			}
			counts[p]++
		}
	}
	positions := make([]int, 0, len(counts))
	for p := range counts {
		positions = append(positions, p)
	}
	sort.Ints(positions) // the same choice in every run
	for _, p := range positions {
		n := counts[p]
		// A key=value's word is a state ("user=root"), not a name.
		if n+1 < siblingsToMerge || strings.IndexByte(toks[p].raw, '=') >= 0 {
			continue
		}
		var survivor *Cluster
		for _, c := range group {
			if onlyWordDiff(c, toks) != p {
				continue
			}
			if survivor == nil || c.seq < survivor.seq {
				survivor = c
			}
		}
		for _, c := range group {
			if c == survivor || onlyWordDiff(c, toks) != p {
				continue
			}
			survivor.count += c.count
			m.unlink(c)
			m.removeFromGroup(c)
			m.byID[c.id] = survivor // the merged id still finds its template
			m.size--
			c.parent = survivor
		}
		survivor.setWildcard(p)
		survivor.text = ""
		return survivor
	}
	return nil
}

// nameWord is a plain word without digits: names (of users, clients)
// vary like values; words with digits ("eth0") are more often an enum.
func nameWord(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c >= '0' && c <= '9' {
			return false
		}
	}
	return plainWord(t)
}

// onlyWordDiff is the one position where a template and a line hold
// different plain words, when every other position matches; else -1.
func onlyWordDiff(c *Cluster, toks []maskedToken) int {
	at := -1
	for i, t := range c.tokens {
		if t == Wildcard && toks[i].variable() || toks[i].hash == c.hashes[i] {
			continue
		}
		if at >= 0 || t == Wildcard || toks[i].variable() || !nameWord(t) || !nameWord(toks[i].raw) {
			return -1
		}
		at = i
	}
	return at
}

func similarity(c *Cluster, toks []maskedToken) (float64, int) {
	tmpl := c.tokens
	same, wild := 0, 0
	for i, h := range c.hashes {
		if h == wildcardHash && tmpl[i] == Wildcard {
			// A wildcard matches a token that is variable by its shape;
			// against a constant word it only breaks ties.
			if toks[i].variable() {
				same++
			}
			wild++
			continue
		}
		if toks[i].hash == h {
			same++
		}
	}
	if len(tmpl) == 0 {
		return 1, 0
	}
	return float64(same) / float64(len(tmpl)), wild
}

func (c *Cluster) setWildcard(i int) {
	c.tokens[i], c.hashes[i] = Wildcard, wildcardHash
}

func (c *Cluster) merge(toks []maskedToken) {
	changed := false
	for i, t := range c.tokens {
		if t == Wildcard || toks[i].hash == c.hashes[i] {
			continue
		}
		c.setWildcard(i)
		changed = true
	}
	if changed {
		c.text = ""
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
	m.removeFromGroup(c)
	delete(m.byID, c.id)
	m.size--
	m.Evicted++
}

func (m *Miner) removeFromGroup(c *Cluster) {
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
}

// Clusters returns every template, most recently used first.
func (m *Miner) Clusters() []*Cluster {
	out := make([]*Cluster, 0, m.size)
	for c := m.head; c != nil; c = c.next {
		out = append(out, c)
	}
	return out
}
