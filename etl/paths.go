package etl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	geoetl "github.com/geoetl/geoetl"
)

// Every tenant has its own folder, <data dir>/<tenant name>/, opened as an
// os.Root for each run: a workflow's paths are relative to it and cannot
// name anything outside it. Inside it only plain files are read or
// written: symbolic links, hard links (a second name of a file that may
// live outside the folder), devices, FIFOs and sockets are refused, so
// that no file outside the tenant's folder can be read or changed through
// one.

// tenantFolderPerm keeps a tenant's files from other local users.
const tenantFolderPerm = 0o750

// checkTenantFolder reports whether a tenant name can name its data
// folder. Tenant names are letters, digits, '-', '_' and '.'; a name that
// starts with '.' ("..", ".") would leave the data folder or hide among
// the engine's own files, and is refused.
func checkTenantFolder(name string) error {
	if name == "" {
		return errors.New("the run has no tenant name, so it has no data folder")
	}
	if err := geoetl.ValidateTenantName(name); err != nil || strings.HasPrefix(name, ".") {
		return fmt.Errorf("tenant name %q cannot name a data folder", name)
	}
	return nil
}

// tenantRoot opens the data folder of a tenant, creating it on first use.
func (e *Engine) tenantRoot(name string) (*os.Root, error) {
	if err := checkTenantFolder(name); err != nil {
		return nil, err
	}
	base, err := os.OpenRoot(e.cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("opening the data folder: %w", err)
	}
	defer base.Close()
	st, err := base.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := base.Mkdir(name, tenantFolderPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating the data folder of tenant %q: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("the data folder of tenant %q: %w", name, err)
	case !st.IsDir():
		// A symbolic link here could lead into another tenant's folder.
		return nil, fmt.Errorf("the data folder of tenant %q is not a plain folder", name)
	}
	root, err := base.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("opening the data folder of tenant %q: %w", name, err)
	}
	return root, nil
}

// checkRelPath enforces the form of a data-folder path: relative, no ".."
// element, no NUL.
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

// cleanRel checks a workflow path and returns it in the OS form.
func cleanRel(p string) (string, error) {
	if err := checkRelPath(p); err != nil {
		return "", fmt.Errorf("path %q %w", p, err)
	}
	return filepath.FromSlash(path.Clean(filepath.ToSlash(p))), nil
}

// lstatPlain walks p element by element, refusing symbolic links on the
// way, and returns what the last element is (fs.ErrNotExist when it is
// missing). It does not judge the last element: see checkPlainFile.
func lstatPlain(root *os.Root, p string) (fs.FileInfo, error) {
	parts := strings.Split(filepath.ToSlash(p), "/")
	for i := range parts {
		sub := filepath.FromSlash(strings.Join(parts[:i+1], "/"))
		st, err := root.Lstat(sub)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notExistErr(filepath.ToSlash(p))
		}
		if err != nil {
			return nil, dataErr(filepath.ToSlash(sub), err)
		}
		if i < len(parts)-1 {
			if st.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("%q is a symbolic link; only plain folders and files are used", filepath.ToSlash(sub))
			}
			if !st.IsDir() {
				return nil, fmt.Errorf("%q is not a folder", filepath.ToSlash(sub))
			}
			continue
		}
		return st, nil
	}
	return nil, fs.ErrNotExist
}

// checkPlainFile refuses anything but a regular file with a single name.
func checkPlainFile(p string, fi fs.FileInfo) error {
	p = filepath.ToSlash(p)
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("%q is a symbolic link; only plain files are read or written", p)
	case m.IsDir():
		return fmt.Errorf("%q is a folder, not a file", p)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%q is a FIFO; only plain files are read or written", p)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%q is a socket; only plain files are read or written", p)
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		return fmt.Errorf("%q is a device; only plain files are read or written", p)
	case !m.IsRegular():
		return fmt.Errorf("%q is not a plain file", p)
	case linkCount(fi) > 1:
		return fmt.Errorf("%q has %d hard links; files with other names are refused, as they may be shared with files outside the data folder", p, linkCount(fi))
	}
	return nil
}

// openData opens a plain file of the tenant's folder for reading.
func (r *run) openData(p string) (*os.File, error) {
	osp, err := cleanRel(p)
	if err != nil {
		return nil, err
	}
	return openPlain(r.root, osp)
}

func openPlain(root *os.Root, osp string) (*os.File, error) {
	fi, err := lstatPlain(root, osp)
	if err != nil {
		return nil, err
	}
	if err := checkPlainFile(osp, fi); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(osp, os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, dataErr(filepath.ToSlash(osp), err)
	}
	// The checks above looked at the name; this looks at what was opened,
	// in case the name changed in between.
	st, err := f.Stat()
	if err == nil && !os.SameFile(fi, st) {
		err = fmt.Errorf("%q changed while it was opened", filepath.ToSlash(osp))
	} else if err == nil {
		err = checkPlainFile(osp, st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// dataErr rewords file errors so that they name the workflow's path, never
// the server's folder layout.
func dataErr(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return notExistErr(p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%q: permission denied", p)
	case strings.Contains(err.Error(), "escapes") || strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%q leads outside the data folder (symbolic link?)", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%q: %v", p, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%q: %v", p, le.Err)
	}
	return fmt.Errorf("%q: %v", p, err)
}

// notExistErr names a missing path and is still fs.ErrNotExist.
type notExistErr string

func (e notExistErr) Error() string {
	return fmt.Sprintf("%q does not exist in the data folder", string(e))
}
func (e notExistErr) Unwrap() error { return fs.ErrNotExist }

// prepareOutput makes the folder of an output path and checks that what
// the path names now, if anything, may be replaced.
func (r *run) prepareOutput(osp string) (exists bool, err error) {
	if dir := filepath.Dir(osp); dir != "." {
		if _, err := lstatPlain(r.root, dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if err := r.root.MkdirAll(dir, 0o755); err != nil {
			return false, dataErr(filepath.ToSlash(dir), err)
		}
	}
	r.removeStaleTemps(osp)
	fi, err := lstatPlain(r.root, osp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := checkPlainFile(osp, fi); err != nil {
		return true, fmt.Errorf("refusing to replace it: %w", err)
	}
	return true, nil
}

// staleTempAge is how old a temporary output file must be before a later
// run for the same output removes it: a run that died (a worker killed at
// its memory limit) cannot remove its own, and a run still writing one
// keeps it recent.
const staleTempAge = 24 * time.Hour

// removeStaleTemps removes the temporary files of runs that died while
// writing dest.
func (r *run) removeStaleTemps(dest string) {
	dir, base := filepath.Dir(dest), filepath.Base(dest)
	d, err := r.root.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	prefix := "." + base + "."
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) || !isTempName(strings.TrimPrefix(n, prefix)) {
			continue
		}
		p := filepath.Join(dir, n)
		if st, err := r.root.Lstat(p); err == nil && st.Mode().IsRegular() && time.Since(st.ModTime()) > staleTempAge {
			r.root.Remove(p)
		}
	}
}

// isTempName reports whether rest (a name after ".<base>.") is that of a
// temporary file made by tempName, or of SQLite's files beside one.
func isTempName(rest string) bool {
	for _, side := range []string{"", "-journal", "-wal", "-shm"} {
		if r, ok := strings.CutSuffix(rest, ".tmp"+side); ok && r != "" && !strings.ContainsAny(r, "./") {
			return true
		}
	}
	return false
}

// tempName is the name of a temporary file beside dest.
func tempName(dest string) string {
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+"."+randomSuffix()+".tmp")
}

// writeOutput is how every file sink writes. Each of names (paths in the
// data folder) is created under a temporary name in its own folder (see
// createData: never through a link, over a device or FIFO, or outside the
// tenant's folder); write fills the files; then they are made durable and
// renamed into place in the order given, so a sink lists last the file
// that readers look for first. When write or a rename fails, every file
// not yet renamed is removed: a failed run leaves the previous outputs as
// they were.
func (r *run) writeOutput(names []string, write func(files []*atomicFile) error) error {
	files := make([]*atomicFile, 0, len(names))
	committed := 0
	defer func() {
		for _, f := range files[committed:] {
			f.abort()
		}
	}()
	for _, name := range names {
		f, err := r.createData(name)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	if err := write(files); err != nil {
		return err
	}
	for _, f := range files {
		err := f.commit() // removes its own temporary file on failure
		committed++
		if err != nil {
			return err
		}
	}
	return nil
}

// atomicFile is an output file written under a temporary name in the same
// folder and renamed into place on commit, so readers never see half a
// file and a failed run leaves the previous output as it was.
type atomicFile struct {
	*os.File
	r         *run
	tmp, dest string
	buf       *bufio.Writer
	// sqlite is set once the file has been handed to SQLite, which writes
	// it by name and may leave a journal beside it.
	sqlite *sqliteFile
}

func (r *run) createData(p string) (*atomicFile, error) {
	osp, err := cleanRel(p)
	if err != nil {
		return nil, err
	}
	if _, err := r.prepareOutput(osp); err != nil {
		return nil, err
	}
	tmp := tempName(osp)
	f, err := r.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, dataErr(filepath.ToSlash(osp), err)
	}
	return &atomicFile{File: f, r: r, tmp: tmp, dest: osp}, nil
}

// buffered is the file behind a 1 MiB buffer, which commit flushes.
func (a *atomicFile) buffered() *bufio.Writer {
	if a.buf == nil {
		a.buf = bufio.NewWriterSize(a.File, 1<<20)
	}
	return a.buf
}

// forSQLite copies the existing output, if any, into the temporary file
// and names that copy for SQLite, which then writes it: the output is
// never changed in place, so a hard link to it could not carry a change
// out of the folder even if one got past the checks. The caller closes
// its database before commit.
func (a *atomicFile) forSQLite() (string, error) {
	exists := true
	if _, err := lstatPlain(a.r.root, a.dest); errors.Is(err, fs.ErrNotExist) {
		exists = false
	}
	if exists {
		for _, side := range []string{"-wal", "-journal"} {
			if st, err := a.r.root.Lstat(a.dest + side); err == nil && st.Size() > 0 {
				return "", fmt.Errorf("%q has an unfinished SQLite %s file; open it once with SQLite or ogrinfo to finish that write", filepath.ToSlash(a.dest), strings.TrimPrefix(side, "-"))
			}
		}
		src, err := openPlain(a.r.root, a.dest)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(a.File, src)
		src.Close()
		if err != nil {
			return "", fmt.Errorf("copying %q: %v", filepath.ToSlash(a.dest), err)
		}
	}
	// SQLite locks with POSIX locks, which closing any other descriptor of
	// the file would drop: ours is closed before SQLite opens it.
	err := a.File.Close()
	a.File = nil
	if err != nil {
		return "", dataErr(filepath.ToSlash(a.dest), err)
	}
	if a.sqlite, err = a.r.sqlitePath(a.tmp); err != nil {
		return "", err
	}
	return a.sqlite.Path, nil
}

func (a *atomicFile) commit() error {
	if a.buf != nil {
		if err := a.buf.Flush(); err != nil {
			a.abort()
			return err
		}
	}
	if a.sqlite != nil {
		a.sqlite.Close()
		f, err := a.r.root.OpenFile(a.tmp, os.O_RDWR, 0)
		if err != nil {
			a.abort()
			return err
		}
		a.File = f
	}
	if err := a.File.Sync(); err != nil {
		a.abort()
		return err
	}
	err := a.File.Close()
	a.File = nil
	if err != nil {
		a.abort()
		return err
	}
	if err := a.r.renameIntoPlace(a.tmp, a.dest); err != nil {
		a.abort()
		return err
	}
	return nil
}

// abort removes the temporary file and whatever SQLite left beside it.
func (a *atomicFile) abort() {
	if a.File != nil {
		a.File.Close()
		a.File = nil
	}
	a.r.root.Remove(a.tmp)
	if a.sqlite != nil {
		a.sqlite.Close()
		for _, side := range []string{"-journal", "-wal", "-shm"} {
			a.r.root.Remove(a.tmp + side)
		}
	}
}

// renameIntoPlace replaces dest by the finished temporary file tmp, after
// checking again that dest is still a plain file or missing, and makes the
// rename durable.
func (r *run) renameIntoPlace(tmp, dest string) error {
	fi, err := lstatPlain(r.root, dest)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		if err := checkPlainFile(dest, fi); err != nil {
			return fmt.Errorf("refusing to replace it: %w", err)
		}
	}
	if err := r.root.Rename(tmp, dest); err != nil {
		return dataErr(filepath.ToSlash(dest), err)
	}
	if d, err := r.root.Open(filepath.Dir(dest)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// sqliteFile gives SQLite a path to a data-folder file that cannot lead
// outside the folder. SQLite opens files by name, so on Linux the parent
// folder is opened through the os.Root and the database is named relative
// to that open folder (/proc/self/fd/N/name). Elsewhere the checked path
// is joined to the tenant's folder.
type sqliteFile struct {
	Path string
	dir  *os.File
}

func (s *sqliteFile) Close() {
	if s.dir != nil {
		s.dir.Close()
	}
}

// sqlitePath names a checked file of the tenant's folder for SQLite.
func (r *run) sqlitePath(osp string) (*sqliteFile, error) {
	dir, base := filepath.Dir(osp), filepath.Base(osp)
	if runtime.GOOS != "linux" {
		return &sqliteFile{Path: filepath.Join(r.dir, osp)}, nil
	}
	d, err := r.root.Open(dir)
	if err != nil {
		return nil, dataErr(filepath.ToSlash(dir), err)
	}
	return &sqliteFile{Path: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), base), dir: d}, nil
}

// sqliteSource names a GeoPackage to read: a plain file with one name.
func (r *run) sqliteSource(p string) (*sqliteFile, error) {
	osp, err := cleanRel(p)
	if err != nil {
		return nil, err
	}
	// SQLite reopens the name; no workflow can make links, so only
	// someone with access to the server could swap it in between.
	f, err := openPlain(r.root, osp)
	if err != nil {
		return nil, err
	}
	f.Close()
	return r.sqlitePath(osp)
}
