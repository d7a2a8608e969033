package pipeline

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cloud-sre-agent/sre-agent/internal/domain"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/*.json
var schemaFiles embed.FS

type stageSchema struct {
	raw      json.RawMessage
	compiled *jsonschema.Schema
}

// schemas are compiled once; they are part of the binary, so a schema that
// does not compile is a build defect and panics at start.
var schemas = func() map[domain.Stage]stageSchema {
	out := map[domain.Stage]stageSchema{}
	c := jsonschema.NewCompiler()
	for _, st := range domain.Stages {
		name := "schema/" + string(st) + ".json"
		raw, err := schemaFiles.ReadFile(name)
		if err != nil {
			panic(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			panic(fmt.Sprintf("%s: %v", name, err))
		}
		if err := c.AddResource(name, doc); err != nil {
			panic(err)
		}
		out[st] = stageSchema{raw: raw, compiled: c.MustCompile(name)}
	}
	return out
}()

// Schema is the JSON schema of a stage's answer.
func Schema(st domain.Stage) json.RawMessage { return schemas[st].raw }

// Decode checks a provider's answer against the stage's schema and decodes
// it into out. A single Markdown code fence around the JSON is tolerated;
// anything else that is not exactly one schema-valid object is an error
// whose text is fit to send back to the model on its retry.
func Decode(st domain.Stage, answer string, out any) error {
	s, ok := schemas[st]
	if !ok {
		return fmt.Errorf("unknown stage %q", st)
	}
	text := unfence(answer)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("the answer is not one JSON object: %v", err)
	}
	if err := s.compiled.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("the answer does not match the %s schema: %s", st, flatten(ve))
		}
		return fmt.Errorf("the answer does not match the %s schema: %v", st, err)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode %s answer: %v", st, err)
	}
	return nil
}

// flatten renders a validation error's leaves on one line.
func flatten(ve *jsonschema.ValidationError) string {
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			parts = append(parts, strings.ReplaceAll(e.Error(), "\n", " "))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("and %d more", len(parts)-5))
	}
	return strings.Join(parts, "; ")
}

func unfence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && !strings.ContainsAny(s[:nl], "{[") {
		s = s[nl+1:]
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
}
