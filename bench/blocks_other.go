//go:build !unix

package bench

import "os"

// allocated is unknown here: diskBytes counts file sizes instead.
func allocated(os.FileInfo) (int64, bool) { return 0, false }
