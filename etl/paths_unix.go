//go:build unix

package etl

import (
	"io/fs"
	"syscall"
)

// openNoBlock keeps an open from waiting on a FIFO that replaced a file
// between its check and its open; on regular files it changes nothing.
const openNoBlock = syscall.O_NONBLOCK

// linkCount returns the number of names (hard links) of a file.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
