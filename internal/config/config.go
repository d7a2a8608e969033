// Package config is the agent's one configuration tree: defaults and
// validation live here and nowhere else.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/cloud-sre-agent/sre-agent/internal/detect"
	"github.com/cloud-sre-agent/sre-agent/internal/redact"
	"github.com/cloud-sre-agent/sre-agent/internal/template"
)

// Config is the whole configuration.
type Config struct {
	Store    Store           `yaml:"store"`
	Redact   redact.Options  `yaml:"redact"`
	Template template.Config `yaml:"template"`
	Detect   detect.Config   `yaml:"detect"`
}

// Store configures the incident store.
type Store struct {
	// Path of the SQLite file; empty means the user's state directory.
	Path string `yaml:"path"`
}

// Default is the embedded configuration: no cloud account, no key.
func Default() Config {
	return Config{
		Redact:   redact.DefaultOptions(),
		Template: template.DefaultConfig(),
		Detect:   detect.DefaultConfig(),
	}
}

// Load reads a YAML file over the defaults; unknown keys are an error so a
// misspelt threshold is not silently ignored.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, errEOF(err)) {
		return cfg, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func errEOF(err error) error {
	if err != nil && err.Error() == "EOF" {
		return err
	}
	return nil
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.Template.Similarity <= 0 || c.Template.Similarity > 1:
		return fmt.Errorf("template.similarity %v: want 0 < s <= 1", c.Template.Similarity)
	case c.Template.MaxTemplates < 1:
		return fmt.Errorf("template.max_templates %d: want at least 1", c.Template.MaxTemplates)
	case c.Template.MaxTokens < 1:
		return fmt.Errorf("template.max_tokens %d: want at least 1", c.Template.MaxTokens)
	case c.Detect.Window <= 0:
		return fmt.Errorf("detect.window %v: want > 0", c.Detect.Window)
	case c.Detect.BurstCount < 1:
		return fmt.Errorf("detect.burst_count %d: want at least 1", c.Detect.BurstCount)
	case c.Detect.BurstRatio < 0 || c.Detect.BurstRatio > 1:
		return fmt.Errorf("detect.burst_ratio %v: want 0..1", c.Detect.BurstRatio)
	case c.Detect.SpikeFactor < 1:
		return fmt.Errorf("detect.spike_factor %v: want at least 1", c.Detect.SpikeFactor)
	case c.Detect.BaselineAlpha <= 0 || c.Detect.BaselineAlpha > 1:
		return fmt.Errorf("detect.baseline_alpha %v: want 0 < a <= 1", c.Detect.BaselineAlpha)
	case c.Detect.NewTemplateAge <= 0:
		return fmt.Errorf("detect.new_template_age %v: want > 0", c.Detect.NewTemplateAge)
	}
	return nil
}
