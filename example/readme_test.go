package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeSessionMarker precedes the README's curl session.
const readmeSessionMarker = "<!-- curl session: run by example/readme_test.go -->\n```sh\n"

// readmeStep is one command of the session and the answer the README
// shows for it ("" when it shows none).
type readmeStep struct {
	command, answer string
}

// readmeSession returns the commands of the README's curl session: a
// command is a line (or lines joined by a trailing backslash) that is not
// a comment; "# → " lines are the answer of the command before them.
func readmeSession(t *testing.T) []readmeStep {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(raw), readmeSessionMarker)
	require.True(t, ok, "README.md has the curl session after %q", readmeSessionMarker)
	block, _, ok = strings.Cut(block, "```\n")
	require.True(t, ok, "the session's code block ends")
	var steps []readmeStep
	var cont string
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "# → "):
			require.NotEmpty(t, steps, "an answer follows a command")
			steps[len(steps)-1].answer = strings.TrimPrefix(line, "# → ")
		case strings.HasSuffix(line, "\\"):
			cont += strings.TrimSuffix(line, "\\")
		case cont != "":
			steps = append(steps, readmeStep{command: cont + line})
			cont = ""
		case strings.TrimSpace(line) == "", strings.HasPrefix(strings.TrimSpace(line), "#"):
		default:
			steps = append(steps, readmeStep{command: line})
		}
	}
	return steps
}

// answerPattern turns an answer shown in the README into a regexp: "…"
// stands for any text.
func answerPattern(answer string) *regexp.Regexp {
	parts := strings.Split(answer, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*?") + "$")
}

// TestReadmeCurlSession runs the README's curl session, as a newcomer
// pastes it, against a running example (the zero-config demo, on another
// port than 8080: the address is the one substitution) and checks every
// answer the README shows.
func TestReadmeCurlSession(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README session needs %s: %v", tool, err)
		}
	}
	steps := readmeSession(t)
	answers := 0
	for _, s := range steps {
		if s.answer != "" {
			answers++
		}
	}
	require.GreaterOrEqual(t, answers, 5, "create, pay, pay-result, refund and a wrong sign, each with its answer")

	repo, err := filepath.Abs("..")
	require.NoError(t, err)
	t.Chdir(t.TempDir())
	addr, banner := start(t, "-config", writeConfig(t, "addr: 127.0.0.1:0\n"))
	export := regexp.MustCompile(`(?m)^\s*(export PAYCENTER_KEY=\S+ PAYCENTER_SECRET=\S+)$`).FindStringSubmatch(banner)
	require.NotNil(t, export, "the banner prints the export line the README tells to paste:\n%s", banner)
	local := func(s string) string { return strings.ReplaceAll(s, "http://127.0.0.1:8080", "http://"+addr) }

	// One shell runs the session (its variables carry from step to step);
	// a marker after each command splits the output.
	var script strings.Builder
	script.WriteString("set -eu\n" + export[1] + "\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "%s\nprintf '\\n@@step %d@@\\n'\n", local(s.command), i)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = repo // the session runs at the repository's root (go run ./example sign)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "the session fails:\n%s\n%s", out, stderr.String())

	rest := string(out)
	for i, s := range steps {
		var got string
		var ok bool
		got, rest, ok = strings.Cut(rest, fmt.Sprintf("\n@@step %d@@\n", i))
		require.True(t, ok, "step %d (%s) ran", i, s.command)
		if s.answer == "" {
			continue
		}
		assert.Regexp(t, answerPattern(local(s.answer)), strings.TrimSpace(got), "the answer of %s", s.command)
	}
}
