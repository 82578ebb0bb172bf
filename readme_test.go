package paycenter_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickStartBuilds compiles the README's quick start, so the
// first program a newcomer copies keeps working, and every other Go
// program of the README (a block starting "package main").
func TestReadmeQuickStartBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README has a Go quick start")
	dir, err := os.MkdirTemp(".", "_readme")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	for i, m := range blocks {
		if i > 0 && !bytes.HasPrefix(m[1], []byte("package main\n")) {
			continue
		}
		prog := filepath.Join(dir, strconv.Itoa(i))
		require.NoError(t, os.Mkdir(prog, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(prog, "main.go"), m[1], 0o600))
		pkgs = append(pkgs, "./"+filepath.ToSlash(prog))
	}
	out, err := exec.Command("go", append([]string{"vet"}, pkgs...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("README programs vetted: %d", len(pkgs))
}
