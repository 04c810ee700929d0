//go:build !unix

package etl

import "io/fs"

const openNoBlock = 0

// linkCount cannot tell hard links apart outside Unix; the os.Root still
// keeps paths inside the folder.
func linkCount(fs.FileInfo) uint64 { return 1 }
