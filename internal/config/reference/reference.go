// Package reference writes the configuration reference (docs/CONFIG.md)
// from the code: every key the config file takes, its type, its default
// (config.Default) and its meaning (the field's doc comment in the
// source). A test keeps docs/CONFIG.md equal to what it writes, and fails
// on a key with no comment.
package reference

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/cloud-sre-agent/sre-agent/internal/config"
)

const module = "github.com/cloud-sre-agent/sre-agent/"

// Key is one setting.
type Key struct {
	Path, Type, Default, Doc string
}

// Keys walks config.Config; root is the module's directory (for the
// source comments).
func Keys(root string) ([]Key, error) {
	docs := &docIndex{root: root, pkgs: map[string]map[string]map[string]string{}}
	var out []Key
	err := walk(reflect.TypeOf(config.Config{}), reflect.ValueOf(config.Default()), "", docs, &out, map[reflect.Type]string{})
	return out, err
}

// walk lists t's keys under prefix; seen holds the types being walked
// (a tree of routes holds routes: said once, then referred to).
func walk(t reflect.Type, v reflect.Value, prefix string, docs *docIndex, out *[]Key, seen map[reflect.Type]string) error {
	seen[t] = strings.TrimSuffix(prefix, ".")
	defer delete(seen, t)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			if f.Anonymous {
				if err := walk(f.Type, v.Field(i), prefix, docs, out, seen); err != nil {
					return err
				}
			}
			continue
		}
		path := prefix + tag
		doc, err := docs.doc(t, f.Name)
		if err != nil {
			return err
		}
		ft, fv := f.Type, v.Field(i)
		if doc == "" { // a settings block: its type says what it is
			et := ft
			for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
				et = et.Elem()
			}
			if doc, err = docs.doc(et, ""); err != nil {
				return err
			}
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			if fv.IsNil() {
				fv = reflect.Zero(ft)
			} else {
				fv = fv.Elem()
			}
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}):
			*out = append(*out, Key{Path: path, Type: "object", Doc: doc})
			if err := walk(ft, fv, path+".", docs, out, seen); err != nil {
				return err
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if at, ok := seen[ft.Elem()]; ok {
				*out = append(*out, Key{Path: path, Type: "list of objects like `" + at + "`", Doc: doc})
				continue
			}
			*out = append(*out, Key{Path: path, Type: "list of objects", Default: def(fv), Doc: doc})
			if err := walk(ft.Elem(), reflect.Zero(ft.Elem()), path+"[].", docs, out, seen); err != nil {
				return err
			}
		default:
			*out = append(*out, Key{Path: path, Type: typeName(ft), Default: def(fv), Doc: doc})
		}
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration"
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	case t.Kind() == reflect.Map:
		return "map of " + typeName(t.Key()) + " to " + typeName(t.Elem())
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	}
	return t.Kind().String()
}

func def(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	}
	switch v.Kind() {
	case reflect.Slice:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, def(v.Index(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%v: %v", k.Interface(), def(v.MapIndex(k))))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.String:
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// docIndex reads field comments from the source of each struct's package.
type docIndex struct {
	root string
	pkgs map[string]map[string]map[string]string // package path -> type -> field -> doc
}

func (d *docIndex) doc(t reflect.Type, field string) (string, error) {
	pkg := t.PkgPath()
	if !strings.HasPrefix(pkg, module) {
		return "", nil
	}
	types, ok := d.pkgs[pkg]
	if !ok {
		var err error
		if types, err = parseDir(filepath.Join(d.root, strings.TrimPrefix(pkg, module))); err != nil {
			return "", err
		}
		d.pkgs[pkg] = types
	}
	name, _, _ := strings.Cut(t.Name(), "[") // PerStage[int] is PerStage
	return types[name][field], nil
}

func parseDir(dir string) (map[string]map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			fields := map[string]string{}
			// "" is the type's own doc.
			if ts.Doc != nil {
				fields[""] = oneLine(ts.Doc.Text())
			} else if gd := declOf(f, ts); gd != nil && gd.Doc != nil {
				fields[""] = oneLine(gd.Doc.Text())
			}
			last := "" // a comment over several fields names each of them
			for _, fl := range st.Fields.List {
				text := strings.TrimSpace(fl.Doc.Text())
				if c := strings.TrimSpace(fl.Comment.Text()); c != "" {
					text = strings.TrimSpace(text + " " + c)
				}
				for _, name := range fl.Names {
					doc := oneLine(text)
					if doc == "" && strings.Contains(last, name.Name) {
						doc = last
					}
					fields[name.Name] = doc
				}
				if text != "" {
					last = oneLine(text)
				}
			}
			out[ts.Name.Name] = fields
			return true
		})
	}
	return out, nil
}

// oneLine is a doc comment's first sentence or two, on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// declOf is the declaration holding ts (its doc is the type's when the
// type spec has none of its own).
func declOf(f *ast.File, ts *ast.TypeSpec) *ast.GenDecl {
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok {
			for _, sp := range gd.Specs {
				if sp == ts {
					return gd
				}
			}
		}
	}
	return nil
}

// Write writes the reference as Markdown.
func Write(w io.Writer, keys []Key) error {
	fmt.Fprint(w, `# Configuration reference

Every key `+"`--config FILE`"+` (YAML) takes, with its type, its default and
what it does. Generated from the code (`+"`internal/config`"+` and the settings
types it embeds): `+"`go test ./internal/config/reference -update`"+`
rewrites it, and CI fails when it is stale or a key has no description.

- Unknown keys are refused. Credentials are secret references
  (`+"`gcpsm://`, `awssm://`, `azkv://`, `file://`; `env://`"+` in development).
- `+"`sre-agent config show`"+` prints the effective configuration (secret
  references, never their values); `+"`sre-agent config validate`"+` checks a
  file.
- Without `+"`--config`"+`, `+"`$XDG_CONFIG_HOME/sre-agent/config.yaml`"+` (else
  `+"`~/.config/sre-agent/config.yaml`"+`) is read when it exists.
- Any key can be set from the environment: `+"`SRE_AGENT_`"+` and the key's path
  in capitals with `+"`_`"+` for `+"`.`"+` (`+"`SRE_AGENT_LOG_LEVEL=debug`, `SRE_AGENT_DETECT_QUIET=10m`"+`);
  lists take YAML (`+"`SRE_AGENT_EGRESS_ALLOW_HOSTS='[api.github.com]'`"+`).
  The environment wins over the file.

| key | type | default | meaning |
|---|---|---|---|
`)
	for _, k := range keys {
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", k.Path, k.Type, cell(k.Default, true), cell(k.Doc, false))
	}
	return nil
}

func cell(s string, code bool) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	if code {
		return "`" + s + "`"
	}
	return s
}
