package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ttpstore/ttpstore/ingest"
	"github.com/ttpstore/ttpstore/internal/fleetgen"
	"github.com/ttpstore/ttpstore/ttprepo"
)

// crashLines is the length of the tag stream `ttpctl ingest` is killed
// in; libraryCrashLines the shorter one of the library-only variant,
// which isolates the store from the command but repeats most of its cost.
const (
	crashLines        = 200_000
	libraryCrashLines = 50_000
)

// buildTTPCtl builds cmd/ttpctl into a temporary directory.
func buildTTPCtl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ttpctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ttpctl")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build ttpctl: %v\n%s", err, out)
	}
	return bin
}

// crashInput writes a fleet and a tag stream of the given length, and
// returns their paths with the tags a correct store keeps from them.
func crashInput(t *testing.T, lines int) (fleetPath, tagsPath string, kept map[string]ttprepo.Tag) {
	t.Helper()
	rules, err := fleetgen.LoadRules("../testdata/rules.json")
	must(t, err, "rules")
	dir := t.TempDir()
	fleetPath, tagsPath = filepath.Join(dir, "fleet.jsonl"), filepath.Join(dir, "tags.jsonl")
	ff, err := os.Create(fleetPath)
	must(t, err)
	tf, err := os.Create(tagsPath)
	must(t, err)
	scale := max(1, lines/fleetgen.LinesPerUnit)
	_, err = fleetgen.Generate(fleetgen.Config{Scale: scale, Lines: lines, Seed: 4, Rules: rules}, ff, tf)
	must(t, err, "generate")
	must(t, ff.Close())
	must(t, tf.Close())

	// What the store must end with, worked out line by line here.
	kept = map[string]ttprepo.Tag{}
	readLines(t, tagsPath, func(n int, line []byte) {
		tg, err := ingest.ParseTagLine(n, line)
		must(t, err, "generated line", n)
		must(t, ttprepo.ValidateTag(n, &tg), "generated line", n)
		if tg.Confidence >= ttprepo.ConfidenceFloor {
			if _, seen := kept[tg.UUID]; !seen {
				kept[tg.UUID] = tg
			}
		}
	})
	return fleetPath, tagsPath, kept
}

// TestIngestSurvivesSIGKILL kills `ttpctl ingest` of a 200,000-line
// stream with SIGKILL about halfway through, runs it again, and checks
// that the store holds exactly the kept tags, that the fleet-wide stats
// agree with them, and that the database is consistent.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ttpctl and ingests 400,000 lines; runs without -short")
	}
	bin := buildTTPCtl(t)
	if out, _ := exec.Command(bin, "help").CombinedOutput(); !bytes.Contains(out, []byte("ingest")) {
		t.Fatalf("ttpctl has no ingest command:\n%s", out)
	}
	fleetPath, tagsPath, kept := crashInput(t, crashLines)
	t.Logf("%d lines, %d distinct kept tags", crashLines, len(kept))

	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.open(t)
			ttpctl := func(args ...string) *exec.Cmd {
				cmd := exec.Command(bin, append([]string{"--db", dsn}, args...)...)
				cmd.Env = append(os.Environ(), "TTP_DB=")
				return cmd
			}
			if out, err := ttpctl("migrate", "up").CombinedOutput(); err != nil {
				t.Fatalf("ttpctl migrate up: %v\n%s", err, out)
			}
			s := openRaw(t, dsn)

			// First run: kill it once about half the tags are stored.
			killHalfway(t, s, ttpctl("ingest", "--fleet", fleetPath, tagsPath), int64(len(kept)))

			// Second run: the same input, to the end.
			out, err := ttpctl("ingest", "--fleet", fleetPath, tagsPath).CombinedOutput()
			if err != nil {
				t.Fatalf("second ingest: %v\n%s", err, lastLines(out, 20))
			}
			t.Logf("second ingest:\n%s", lastLines(out, 8))

			verifyKept(t, s, kept)
			if s.Dialect() == ttprepo.SQLite {
				checkSQLiteIntegrity(t, s)
			} else {
				checkMySQLTables(t, s)
			}
		})
	}
}

// crashHelperEnv names the DSN and tags file a re-executed test binary
// ingests through the library; see TestCrashHelperProcess.
const crashHelperEnv = "TTP_CRASH_HELPER"

// TestCrashHelperProcess is not a test of its own: the library crash test
// runs this binary again with crashHelperEnv set to "DSN\nTAGS", to
// ingest from a process it can kill.
func TestCrashHelperProcess(t *testing.T) {
	spec := os.Getenv(crashHelperEnv)
	if spec == "" {
		t.Skip("runs only as a helper process")
	}
	dsn, tagsPath, _ := strings.Cut(spec, "\n")
	ctx := context.Background()
	s, err := ttprepo.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var batch []ttprepo.Tag
	flush := func() {
		if _, err := s.InsertTags(ctx, batch); err != nil {
			fmt.Fprintln(os.Stderr, "insert:", err)
			os.Exit(3)
		}
		batch = batch[:0]
	}
	readLines(t, tagsPath, func(n int, line []byte) {
		tg, err := ingest.ParseTagLine(n, line)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		if batch = append(batch, tg); len(batch) == 1000 {
			flush()
		}
	})
	flush()
	s.Close()
}

// TestLibraryIngestSurvivesSIGKILL is the crash test through the library
// alone: a separate process inserts a generated stream in batches of
// 1,000 and is killed with SIGKILL about halfway; a second process runs
// the whole stream again; the store must then hold exactly the kept tags.
func TestLibraryIngestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 100,000 lines; runs without -short")
	}
	fleetPath, tagsPath, kept := crashInput(t, libraryCrashLines)
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.open(t)
			s := openStore(t, dsn)
			loadFleetFile(t, s, fleetPath)
			helper := func() *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashHelperEnv+"="+dsn+"\n"+tagsPath)
				return cmd
			}
			killHalfway(t, s, helper(), int64(len(kept)))
			if out, err := helper().CombinedOutput(); err != nil {
				t.Fatalf("second run: %v\n%s", err, out)
			}
			verifyKept(t, s, kept)
			if s.Dialect() == ttprepo.SQLite {
				checkSQLiteIntegrity(t, s)
			} else {
				checkMySQLTables(t, s)
			}
		})
	}
}

// killHalfway starts cmd, sends it SIGKILL once the store holds half of
// want tags, and checks that it died of that signal before storing all.
func killHalfway(t *testing.T, s *ttprepo.Store, cmd *exec.Cmd, want int64) {
	t.Helper()
	ctx := context.Background()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start(), "start")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("ingest ended (%v) before it could be killed\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		n, err := s.CountTags(ctx)
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("count while ingesting: %v", err)
		}
		if n >= want/2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("ingest stored only %d of %d tags in 5 minutes", n, want)
		}
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL), "kill")
	err := <-exited
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("ingest was not killed by SIGKILL: %v\n%s", err, stderr.String())
	}
	n, err := s.CountTags(ctx)
	must(t, err, "count after kill")
	t.Logf("killed with %d of %d tags stored", n, want)
	if n >= want {
		t.Fatalf("everything was stored before the kill: the crash tested nothing")
	}
}

// verifyKept checks the count, the fleet-wide stats and a sample of tags
// read back against what the store must hold.
func verifyKept(t *testing.T, s *ttprepo.Store, kept map[string]ttprepo.Tag) {
	t.Helper()
	l := concurrentLoad{kept: kept}
	l.verify(t, s)
	i := 0
	for id, want := range kept {
		if i++; i > 200 {
			break
		}
		got, err := s.GetTag(context.Background(), id)
		if err != nil {
			t.Errorf("get %s: %v", id, err)
			continue
		}
		if !got.CreatedAt.Equal(want.CreatedAt) || !bytes.Equal(got.Evidence, want.Evidence) || got.SourceID != want.SourceID {
			t.Errorf("tag %s read back as %+v, want %+v", id, got, want)
		}
	}
}

// checkMySQLTables runs CHECK TABLE over the store's tables.
func checkMySQLTables(t *testing.T, s *ttprepo.Store) {
	t.Helper()
	rows, err := s.DB().Query("CHECK TABLE campaigns, attacker_identities, attackers, ttp_tag, ttp_technique_stats")
	must(t, err, "check table")
	defer rows.Close()
	for rows.Next() {
		var table, op, kind, msg string
		must(t, rows.Scan(&table, &op, &kind, &msg))
		if kind == "status" && msg != "OK" {
			t.Errorf("CHECK TABLE %s: %s", table, msg)
		}
		if kind == "error" {
			t.Errorf("CHECK TABLE %s: %s", table, msg)
		}
	}
	must(t, rows.Err())
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n") + fmt.Sprintf("\n(%d lines of output)", len(lines))
}
