package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Incident is what the scorer reads of one incident in the output of
// `sre-agent analyze --json --lines`.
type Incident struct {
	Fingerprint string    `json:"fingerprint"`
	Service     string    `json:"service"`
	Services    []string  `json:"services"`
	FirstSeen   time.Time `json:"first_seen"`
	Episodes    []struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"episodes"`
	Lines     []int `json:"lines"`
	Templates []struct {
		ID   string `json:"id"`
		Text string `json:"template"`
	} `json:"templates"`
}

// openings are the moments the incident opened: each episode's start.
func (in Incident) openings() []time.Time {
	if len(in.Episodes) == 0 {
		return []time.Time{in.FirstSeen}
	}
	out := make([]time.Time, len(in.Episodes))
	for i, e := range in.Episodes {
		out[i] = e.Start
	}
	return out
}

// Analysis is what the scorer reads of a whole analyze run.
type Analysis struct {
	Incidents []Incident
	// Held are the lines of CRITICAL lines recorded without an incident.
	Held []int
}

// ReadAnalysis reads the JSON `sre-agent analyze --json --lines` prints.
func ReadAnalysis(r io.Reader) (Analysis, error) {
	var results []struct {
		Incidents []Incident `json:"incidents"`
		Held      []struct {
			Line int `json:"line"`
		} `json:"held"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&results); err != nil {
		return Analysis{}, fmt.Errorf("read analyze output: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Analysis{}, fmt.Errorf("read analyze output: more than one JSON value")
	}
	var a Analysis
	for _, res := range results {
		a.Incidents = append(a.Incidents, res.Incidents...)
		for _, h := range res.Held {
			a.Held = append(a.Held, h.Line)
		}
	}
	return a, nil
}

// EpisodeScore is how one ground-truth episode fared.
type EpisodeScore struct {
	Name string
	// Openings are the incident openings during it (or within the slack
	// after it): 1 is ideal, 0 is a miss.
	Openings int
	// Delay is from the episode's start to the first opening.
	Delay time.Duration
}

// Score is a stream's detection score.
type Score struct {
	Episodes []EpisodeScore
	Found    int // episodes with at least one opening
	// Openings in all, and those during no episode.
	Openings, Unmatched int
	Incidents           int
	// NormalOnly counts incidents none of whose lines an episode wrote.
	NormalOnly int
}

// Slack is how long after an episode's end an opening still counts for it:
// the long window a rise must hold over.
const Slack = 5 * time.Minute

// Early is how long before an episode's start an opening still counts for
// it: a line without a timestamp (a runtime's crash report) takes the time
// of the line before it.
const Early = time.Second

// ScoreStream matches the incidents' openings with the episodes.
func ScoreStream(eps []Episode, a Analysis) Score {
	s := Score{Episodes: make([]EpisodeScore, len(eps)), Incidents: len(a.Incidents)}
	episodeLine := map[int]bool{}
	for i, e := range eps {
		s.Episodes[i].Name = e.Name
		for _, l := range e.Lines {
			episodeLine[l] = true
		}
	}
	for _, in := range a.Incidents {
		ofEpisode := false
		for _, l := range in.Lines {
			if episodeLine[l] {
				ofEpisode = true
				break
			}
		}
		if !ofEpisode {
			s.NormalOnly++
		}
		for _, at := range in.openings() {
			s.Openings++
			// The opening belongs to the latest episode begun by then,
			// if it is not over by more than the slack.
			best := -1
			for i, e := range eps {
				if !at.Before(e.Start.Add(-Early)) && !at.After(e.End.Add(Slack)) && (best < 0 || e.Start.After(eps[best].Start)) {
					best = i
				}
			}
			if best < 0 {
				s.Unmatched++
				continue
			}
			if s.Episodes[best].Openings == 0 {
				s.Episodes[best].Delay = max(at.Sub(eps[best].Start), 0)
			}
			s.Episodes[best].Openings++
		}
	}
	for _, e := range s.Episodes {
		if e.Openings > 0 {
			s.Found++
		}
	}
	return s
}

// Table renders a score as a Markdown table.
func (s Score) Table(title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s: %d of %d episodes found, %d openings (%d during no episode), %d incidents, %d normal-only\n\n| episode | openings | delay |\n|---|---|---|\n",
		title, s.Found, len(s.Episodes), s.Openings, s.Unmatched, s.Incidents, s.NormalOnly)
	for _, e := range s.Episodes {
		fmt.Fprintf(&b, "| %s | %d | %v |\n", e.Name, e.Openings, e.Delay.Round(time.Second))
	}
	return b.String()
}

// LabelScore is detection scored against per-line labels (Loghub's BGL
// alert tags, HDFS's anomalous blocks).
type LabelScore struct {
	Incidents int
	// NormalOnly counts incidents made only of lines labelled normal.
	NormalOnly int
	// Anomalies and Covered count labelled lines and those in an incident
	// or recorded as held.
	Anomalies, Covered int
}

// ScoreLabels scores incidents against anomalous, the set of anomalous
// line numbers.
func ScoreLabels(a Analysis, anomalous map[int]bool) LabelScore {
	s := LabelScore{Incidents: len(a.Incidents), Anomalies: len(anomalous)}
	covered := map[int]bool{}
	for _, in := range a.Incidents {
		any := false
		for _, l := range in.Lines {
			if anomalous[l] {
				any = true
				covered[l] = true
			}
		}
		if !any {
			s.NormalOnly++
		}
	}
	for _, l := range a.Held {
		if anomalous[l] {
			covered[l] = true
		}
	}
	s.Covered = len(covered)
	return s
}

// NormalOnlyShare is the share of incidents made only of normal lines.
func (s LabelScore) NormalOnlyShare() float64 {
	if s.Incidents == 0 {
		return 0
	}
	return float64(s.NormalOnly) / float64(s.Incidents)
}
