package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hookd/config"
	"hookd/wal"
)

// operatorTokenTTL is the life of the token `hookd backup` mints: it is
// checked when the backup starts, not while it streams.
const operatorTokenTTL = 5 * time.Minute

// backupCmd is `hookd backup`: it asks the running server for its online
// backup (GET /admin/backup; the server holds Badger's directory lock, so
// only it can read the store) and writes it to --out atomically: to
// FILE.tmp, synced, checked complete, then renamed. Any failure exits 1
// and leaves no FILE (an older FILE stays as it was).
func backupCmd(args, env []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config `file` of the server (default: built-in defaults and HOOKD_* variables)")
	base := fs.String("url", "", "server `URL` (default: http://<server.listen>, a wildcard host as loopback)")
	tok := fs.String("token", "", "bearer `token` with role hookd-operator (default in jwt mode: one minted with auth.jwt_secret)")
	out := fs.String("out", "", "backup `file` to write (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up when the server sends nothing for this long")
	if err := parse(fs, args); err != nil {
		return exitCode(err, stderr)
	}
	if *out == "" {
		fmt.Fprintln(stderr, "hookd backup: --out FILE is required")
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		return exitCode(err, stderr)
	}
	start := time.Now()
	n, entries, err := takeBackup(cfg, *base, *tok, *out, *timeout)
	if err != nil {
		return exitCode(fmt.Errorf("backup: %w", err), stderr)
	}
	fmt.Fprintf(stdout, "backup: wrote %s (%d bytes, %d entries) in %s\n", *out, n, entries, time.Since(start).Round(time.Millisecond))
	return 0
}

// operatorToken is --token, or in jwt mode a short-lived operator token
// signed with auth.jwt_secret; auth.mode none needs none.
func operatorToken(cfg config.Config, tok string) (string, error) {
	if tok != "" || cfg.Auth.Mode == config.AuthNone {
		return tok, nil
	}
	if cfg.Auth.Mode == config.AuthJWT && cfg.Auth.JWTSecret != "" {
		return mintToken(cfg, "hookd", "", []string{"hookd-operator"}, operatorTokenTTL)
	}
	return "", fmt.Errorf("auth.mode is %q and no --token given: pass a token (JWT or API key) holding role hookd-operator", cfg.Auth.Mode)
}

func takeBackup(cfg config.Config, base, tok, out string, timeout time.Duration) (n, entries int64, err error) {
	if base == "" {
		base = "http://" + probeAddr(cfg.Server.Listen)
	}
	if tok, err = operatorToken(cfg, tok); err != nil {
		return 0, 0, err
	}
	url := strings.TrimSuffix(base, "/") + "/admin/backup"

	// A watchdog cancels the request when nothing arrives for timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stall := time.AfterFunc(timeout, cancel)
	defer stall.Stop()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
		hint := ""
		if res.StatusCode == 401 || res.StatusCode == 403 {
			hint = " (the token must hold role hookd-operator)"
		}
		return 0, 0, fmt.Errorf("GET %s: status %d%s: %s", url, res.StatusCode, hint, strings.TrimSpace(string(b)))
	}

	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	check := wal.NewBackupChecker()
	bw := bufio.NewWriterSize(f, 1<<20)
	body := &stallReader{r: res.Body, t: stall, d: timeout}
	if n, err = io.Copy(io.MultiWriter(bw, check), body); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("nothing received for %s", timeout)
		}
		return n, 0, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if entries, err = check.Check(); err != nil {
		return n, 0, fmt.Errorf("%w; the server's log says why", err)
	}
	if err = bw.Flush(); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, 0, err
	}
	if err = os.Rename(tmp, out); err != nil {
		return n, 0, err
	}
	ok = true
	return n, entries, syncDir(filepath.Dir(out))
}

// stallReader pushes the watchdog back on every read.
type stallReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.t.Reset(s.d)
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// restoreCmd is `hookd restore`: it loads a backup file into an empty
// data directory (--data, else storage.dir) with the server stopped.
func restoreCmd(args, env []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML config `file` of the server that will serve the data (storage settings)")
	in := fs.String("in", "", "backup `file` written by hookd backup (required)")
	data := fs.String("data", "", "empty data `dir`ectory to restore into (default: storage.dir)")
	if err := parse(fs, args); err != nil {
		return exitCode(err, stderr)
	}
	if *in == "" {
		fmt.Fprintln(stderr, "hookd restore: --in FILE is required")
		fs.Usage()
		return 2
	}
	var flags []config.Override
	if *data != "" {
		flags = append(flags, config.Override{Key: "storage.dir", Value: *data})
	}
	cfg, err := config.LoadWith(*path, env, flags...)
	if err != nil {
		return exitCode(err, stderr)
	}
	f, err := os.Open(*in)
	if err != nil {
		return exitCode(fmt.Errorf("restore: %w", err), stderr)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return exitCode(fmt.Errorf("restore: %w", err), stderr)
	}
	start := time.Now()
	st, err := wal.Restore(wal.Options{Dir: cfg.Storage.Dir, Retention: cfg.Storage.Retention.Duration,
		MemTableSize: int64(cfg.Storage.MemtableBytes), NoCompression: cfg.Storage.Compression == "none",
		ValueThreshold: cfg.Storage.ValueThreshold, MinFreeBytes: cfg.Storage.MinFreeBytes},
		bufio.NewReaderSize(f, 1<<20), fi.Size())
	if err != nil {
		return exitCode(fmt.Errorf("restore: %w", err), stderr)
	}
	fmt.Fprintf(stdout, "restore: %d entries from %s into %s in %s; start the server on that directory\n",
		st.Entries, *in, cfg.Storage.Dir, time.Since(start).Round(time.Millisecond))
	return 0
}
