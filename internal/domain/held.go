package domain

// HeldTemplate is an error template's events a spine holds while no
// incident has them: they join the incident a rule opens for the template
// within the long window. A save writes them with the spine's share, so
// the messages that carried them may be acknowledged; a run that starts
// after a crash takes them over instead of losing them. Every text in it
// is redacted.
type HeldTemplate struct {
	Service  string     `json:"service"`
	Template TemplateID `json:"template"`
	Events   []Event    `json:"events"`
	// Dropped counts the template's held events past the ones kept.
	Dropped int64 `json:"dropped,omitempty"`
}

// HeldKey names a held template in a share.
type HeldKey struct {
	Service  string
	Template TemplateID
}

// HeldChanges is what a save writes of a share's held templates.
type HeldChanges struct {
	// Put replaces the rows of these templates; Gone deletes rows.
	Put  []HeldTemplate
	Gone []HeldKey
	// Adopted are earlier shares whose held templates this share took
	// over: their rows are deleted in the same commit.
	Adopted []string
}

// Empty reports whether the save changes no held row.
func (h HeldChanges) Empty() bool {
	return len(h.Put) == 0 && len(h.Gone) == 0 && len(h.Adopted) == 0
}

// Save is what one flush of a source commits at once: its share of the
// incidents, the baselines, its held templates and the keys of the
// messages whose events these hold. A message is acknowledged only after
// the commit that names its key.
type Save struct {
	Source    string
	Baselines []Baseline
	Incidents []Incident
	Held      HeldChanges
	Seen      []string
	// Detector is what the source's detector changed since the last save,
	// kept under DetectorSource (the source, not the run: the next run
	// continues it).
	Detector       []DetectorState
	DetectorSource string
}

// DetectorState is a service's (Template "") or a template's detection
// state as a source's detector last saved it: its windows in progress,
// baselines and first sightings, as JSON the detector reads back.
type DetectorState struct {
	Service  string     `json:"service"`
	Template TemplateID `json:"template"`
	State    []byte     `json:"state"`
}
