package etl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// checkRelPath enforces the form of a data-folder path: relative, no ".."
// element, no NUL. The os.Root used to open it also refuses symbolic links
// that lead outside the folder.
func checkRelPath(p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return errors.New("must not be empty")
	case strings.ContainsRune(p, 0):
		return errors.New("must not contain NUL")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return errors.New("must be relative to the data folder, not absolute")
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return errors.New(`must stay inside the data folder (no ".." elements)`)
		}
	}
	if !filepath.IsLocal(p) {
		return errors.New("must stay inside the data folder")
	}
	return nil
}

// openData opens a file of the data folder for reading.
func (r *run) openData(p string) (*os.File, error) {
	if err := checkRelPath(p); err != nil {
		return nil, fmt.Errorf("path %q %w", p, err)
	}
	f, err := r.root.Open(filepath.FromSlash(p))
	if err != nil {
		return nil, dataErr(p, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, dataErr(p, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%q is a folder, not a file", p)
	}
	return f, nil
}

// dataErr rewords file errors so that they name the workflow's path, never
// the server's folder layout.
func dataErr(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q does not exist in the data folder", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%q: permission denied", p)
	case strings.Contains(err.Error(), "escapes") || strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%q leads outside the data folder (symbolic link?)", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%q: %v", p, pe.Err)
	}
	return fmt.Errorf("%q: %v", p, err)
}

// atomicFile is an output file written under a temporary name and renamed
// into place on commit, so readers never see half a file and a failed run
// leaves the previous output as it was.
type atomicFile struct {
	*os.File
	r         *run
	tmp, dest string
}

func (r *run) createData(p string) (*atomicFile, error) {
	if err := checkRelPath(p); err != nil {
		return nil, fmt.Errorf("path %q %w", p, err)
	}
	p = filepath.FromSlash(path.Clean(filepath.ToSlash(p)))
	if dir := filepath.Dir(p); dir != "." {
		if err := r.root.MkdirAll(dir, 0o755); err != nil {
			return nil, dataErr(filepath.ToSlash(dir), err)
		}
	}
	if st, err := r.root.Lstat(p); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%q is a symbolic link; refusing to replace it", filepath.ToSlash(p))
	}
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+"."+randomSuffix()+".tmp")
	f, err := r.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, dataErr(filepath.ToSlash(p), err)
	}
	return &atomicFile{File: f, r: r, tmp: tmp, dest: p}, nil
}

func (a *atomicFile) commit() error {
	if err := a.File.Sync(); err != nil {
		a.abort()
		return err
	}
	if err := a.File.Close(); err != nil {
		a.r.root.Remove(a.tmp)
		return err
	}
	if err := a.r.root.Rename(a.tmp, a.dest); err != nil {
		a.r.root.Remove(a.tmp)
		return dataErr(filepath.ToSlash(a.dest), err)
	}
	return nil
}

func (a *atomicFile) abort() {
	a.File.Close()
	a.r.root.Remove(a.tmp)
}

// sqliteFile gives SQLite a path to a data-folder file that cannot lead
// outside the folder. SQLite opens files by name, so on Linux the parent
// folder is opened through the os.Root and the database is named relative
// to that open folder (/proc/self/fd/N/name); the last element is checked
// not to be a symbolic link. Elsewhere the checked path is joined to the
// data folder.
type sqliteFile struct {
	Path string
	dir  *os.File
}

func (s *sqliteFile) Close() {
	if s.dir != nil {
		s.dir.Close()
	}
}

func (r *run) sqlitePath(p string, create bool) (*sqliteFile, error) {
	if err := checkRelPath(p); err != nil {
		return nil, fmt.Errorf("path %q %w", p, err)
	}
	p = filepath.FromSlash(path.Clean(filepath.ToSlash(p)))
	dir, base := filepath.Dir(p), filepath.Base(p)
	if create && dir != "." {
		if err := r.root.MkdirAll(dir, 0o755); err != nil {
			return nil, dataErr(filepath.ToSlash(dir), err)
		}
	}
	st, err := r.root.Lstat(p)
	switch {
	case err == nil && st.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%q is a symbolic link; GeoPackages are opened only as plain files", filepath.ToSlash(p))
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("%q is a folder, not a file", filepath.ToSlash(p))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, dataErr(filepath.ToSlash(p), err)
	case err != nil && !create:
		return nil, dataErr(filepath.ToSlash(p), err)
	}
	if runtime.GOOS != "linux" {
		return &sqliteFile{Path: filepath.Join(r.e.cfg.DataDir, p)}, nil
	}
	d, err := r.root.Open(dir)
	if err != nil {
		return nil, dataErr(filepath.ToSlash(dir), err)
	}
	return &sqliteFile{Path: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), base), dir: d}, nil
}
