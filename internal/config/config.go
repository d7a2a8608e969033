// Package config is the agent's one configuration tree: defaults and
// validation live here and nowhere else.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file keeps the defaults
		return cfg, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate reports the first setting out of range; each part checks its
// own settings.
func (c Config) Validate() error {
	if err := c.Template.Validate(); err != nil {
		return err
	}
	return c.Detect.Validate()
}
