//go:build !linux

package image

import "os"

// fileIdentity: only Linux is known to keep a change time no program can
// set; elsewhere every open of a compressed archive hashes it.
func fileIdentity(os.FileInfo) (fileID, bool) { return fileID{}, false }
