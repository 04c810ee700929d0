package etl

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	geoetl "github.com/geoetl/geoetl"
)

// Before data folders were per tenant, every file lay directly in the data
// folder and belonged to the only tenant, default. UpgradeDataLayout moves
// such files into <data dir>/default/ once, on the first start after the
// upgrade, so that the default tenant's workflow paths keep naming the
// same files.
//
// The move is crash-safe: entries are renamed one at a time into a
// staging folder, which is renamed to default/ when all are in; the marker
// file is written last. A start that finds the staging folder finishes
// the move; one that finds the marker does nothing.

const (
	// layoutMarker records that the data folder has one folder per tenant.
	layoutMarker = ".geoetl-layout"
	// layoutStaging collects the old entries during the move.
	layoutStaging = ".geoetl-upgrade-default"
	// layoutMoved, inside the staging folder, says every entry is in.
	layoutMoved = ".geoetl-moved"
)

// UpgradeDataLayout prepares dataDir for per-tenant folders, moving the
// files of an older install into the default tenant's folder (see above).
// It logs each entry it moves. Run it once at start, before any run.
func UpgradeDataLayout(dataDir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	root, err := os.OpenRoot(dataDir)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	defer root.Close()
	if _, err := root.Lstat(layoutMarker); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data folder: %w", err)
	}
	def := geoetl.DefaultTenantName
	_, stagingErr := root.Lstat(layoutStaging)
	_, movedErr := root.Lstat(filepath.Join(def, layoutMoved))
	switch {
	case stagingErr == nil:
		// An earlier start stopped during the move: finish it.
	case movedErr == nil:
		// An earlier start stopped after renaming the staging folder.
		return finishLayout(root, log)
	default:
		if err := root.Mkdir(layoutStaging, tenantFolderPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("data folder: %w", err)
		}
	}
	dir, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	moved := 0
	for _, e := range entries {
		name := e.Name()
		if name == layoutStaging || name == layoutMarker {
			continue
		}
		// Every entry, a folder named default included, belonged to the
		// default tenant: its paths were relative to the data folder.
		if err := root.Rename(name, filepath.Join(layoutStaging, name)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // another instance moved it
			}
			return fmt.Errorf("moving %q into the default tenant's folder: %w", name, err)
		}
		moved++
		log.Info("data folder upgrade: moved into the default tenant's folder", "entry", name, "to", filepath.Join(def, name))
	}
	f, err := root.OpenFile(filepath.Join(layoutStaging, layoutMoved), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	syncDir(root, layoutStaging)
	if err := root.Rename(layoutStaging, def); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data folder: renaming the staging folder to %q: %w", def, err)
	}
	syncDir(root, ".")
	if moved > 0 {
		log.Warn("data folder upgrade: files are now per tenant; the default tenant's files moved into its folder", "entries", moved, "folder", filepath.Join(dataDir, def))
	}
	return finishLayout(root, log)
}

func finishLayout(root *os.Root, log *slog.Logger) error {
	f, err := root.OpenFile(layoutMarker, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		_, err = f.WriteString("one folder per tenant\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("data folder: writing %s: %w", layoutMarker, err)
	}
	syncDir(root, ".")
	if err := root.Remove(filepath.Join(geoetl.DefaultTenantName, layoutMoved)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("data folder upgrade: could not remove a leftover file", "file", filepath.Join(geoetl.DefaultTenantName, layoutMoved), "err", err)
	}
	return nil
}

func syncDir(root *os.Root, name string) {
	if d, err := root.Open(name); err == nil {
		d.Sync()
		d.Close()
	}
}
