package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// Loading the -config file: YAML parsed into nodes, ${ENV} references
// expanded in values (after parsing, so a value cannot change the
// document's structure), every key and value checked against fileConfig,
// then decoded. Errors name the file, the line, the key path
// (apps[0].notifyURL) and the rule, suggest the closest known key, and
// never show Go type names.

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// loadConfig reads and checks the configuration file at path.
func loadConfig(path string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, syntaxError(path, raw, err)
	}
	cfg := &fileConfig{}
	if len(doc.Content) == 0 { // an empty file is a zero config
		return cfg, nil
	}
	c := &configCheck{file: path}
	c.walk(doc.Content[0], reflect.TypeOf(cfg).Elem(), "")
	if len(c.problems) > 0 {
		return nil, errors.New(strings.Join(c.problems, "\n"))
	}
	if err := doc.Content[0].Decode(cfg); err != nil {
		// The walk checks every value the decoder takes; this is a backstop
		// that keeps Go's type names out of the message.
		return nil, fmt.Errorf("%s: %s", path, goTypeRE.ReplaceAllString(err.Error(), "into a value of another kind"))
	}
	if _, err := cfg.Database.pool(); err != nil { // rules between keys
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var goTypeRE = regexp.MustCompile(`into [\[\]*\w.]+`)

// syntaxError reports a YAML syntax error at the line and column the goccy
// parser finds (yaml.v3 often names the line before).
func syntaxError(path string, raw []byte, err error) error {
	_, gerr := goccyparser.ParseBytes(raw, 0)
	var se *goccy.SyntaxError
	if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil {
		pos := se.Token.Position
		return fmt.Errorf("%s line %d, column %d: %s\n%s", path, pos.Line, pos.Column, se.Message, sourceLine(raw, pos.Line, pos.Column))
	}
	return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
}

// sourceLine returns line n of raw (1-based) with a caret under column col.
func sourceLine(raw []byte, n, col int) string {
	lines := strings.Split(string(raw), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	l := strings.ReplaceAll(lines[n-1], "\t", "→")
	return fmt.Sprintf("  %4d | %s\n         %s^", n, l, strings.Repeat(" ", max(col-1, 0)))
}

// configCheck collects the problems of one file.
type configCheck struct {
	file     string
	problems []string
}

func (c *configCheck) add(n *yaml.Node, path, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s line %d: %s %s", c.file, n.Line, path, fmt.Sprintf(format, args...)))
}

var durationType = reflect.TypeOf(time.Duration(0))

// walk checks node n against Go type t at key path path, expanding
// ${ENV} references in scalar values.
//
// It is one switch over the kinds a config value can have; splitting it
// would scatter the rules a reader wants side by side.
func (c *configCheck) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // "key:" with no value keeps the default
	}
	name := path
	if name == "" {
		name = "the file"
	}
	switch {
	case t == durationType:
		if !c.scalar(n, path, "a duration like 10s, 1m or 1h30m") {
			return
		}
		// A bare number would be nanoseconds: refuse it.
		if d, err := time.ParseDuration(n.Value); err != nil || d < 0 {
			c.add(n, path, "must be a duration like 10s, 1m or 1h30m, not %q", n.Value)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, name, "must be a mapping of keys (%s), not %s", strings.Join(yamlKeys(t), ", "), kindName(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := joinPath(path, k.Value)
			if line, dup := seen[k.Value]; dup {
				c.add(k, key, "is given twice (first on line %d)", line)
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				msg := "is not a known key"
				if s := closest(k.Value, yamlKeys(t)); s != "" {
					msg += "; did you mean " + s + "?"
				} else {
					msg += " (known keys here: " + strings.Join(yamlKeys(t), ", ") + ")"
				}
				c.add(k, key, "%s", msg)
				continue
			}
			c.walk(v, f.Type, key)
			if allowed := f.Tag.Get("oneof"); allowed != "" && v.Kind == yaml.ScalarNode && v.Value != "" &&
				!slices.Contains(strings.Split(allowed, "|"), v.Value) {
				c.add(v, key, "must be %s, not %q", strings.ReplaceAll(allowed, "|", ", "), v.Value)
			}
			if least, err := strconv.Atoi(f.Tag.Get("min")); err == nil && v.Kind == yaml.ScalarNode {
				if n, err := strconv.Atoi(v.Value); err == nil && n < least {
					c.add(v, key, "must be %d or more, not %d", least, n)
				}
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n, name, "must be a list (one \"- item\" per line, or [a, b]), not %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			c.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.String:
		c.scalar(n, path, "text")
	case t.Kind() == reflect.Int:
		if c.scalar(n, path, "a whole number") {
			if _, err := strconv.Atoi(n.Value); err != nil {
				c.add(n, path, "must be a whole number, not %q", n.Value)
			}
		}
	case t.Kind() == reflect.Bool:
		if c.scalar(n, path, "true or false") && n.Value != "true" && n.Value != "false" {
			c.add(n, path, "must be true or false, not %q", n.Value)
		}
	default:
		c.add(n, path, "cannot be set in this file")
	}
}

// scalar checks that n is a single value and expands its ${ENV}
// references. A value that had one is text, except a plain (unquoted) one
// where a number or true/false is wanted: it is typed again from its
// expanded text, so "maxOpenConns: ${CONNS}" is a number.
func (c *configCheck) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		c.add(n, path, "must be %s, not %s", want, kindName(n))
		return false
	}
	if envRef.MatchString(n.Value) {
		n.Value = c.expand(n, path)
		n.Tag = "!!str"
		if want != "text" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			n.Tag = ""
		}
	}
	return true
}

// expand replaces ${NAME} references in n's value by the environment's.
func (c *configCheck) expand(n *yaml.Node, path string) string {
	return envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			c.add(n, path, "refers to ${%s}, which is not set in the environment", name)
		}
		return v
	})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlKeys lists the keys a struct accepts, in declaration order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// closest returns the known key nearest to key: the same letters in
// another case, or at most a third of its letters away; "" when none is.
func closest(key string, known []string) string {
	best, bestDist := "", len(key)/3+1
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
