package ttprepo

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/ttpstore/ttpstore/queries"
)

// namedQuery returns the text of the query called name in one of the
// embedded files of queries/: from its "-- name:" line to the next one.
// It panics when the query is missing, which the first use in any test
// reveals; the text is fixed at build time.
func namedQuery(file, name string) string {
	raw, err := fs.ReadFile(queries.FS, file)
	if err != nil {
		panic(fmt.Sprintf("embedded query file %s: %v", file, err))
	}
	text := string(raw)
	start := strings.Index(text, "-- name: "+name+" ")
	if start < 0 {
		panic(fmt.Sprintf("query %s not found in %s", name, file))
	}
	body := text[start:]
	if end := strings.Index(body[1:], "-- name: "); end >= 0 {
		body = body[:end+1]
	}
	return strings.TrimSpace(body)
}

// techniqueKey is the navigator id of a technique or sub-technique: the
// sub-technique id when there is one, which validation keeps in the
// T1234.001 form.
func techniqueKey(technique string, sub *string) string {
	if sub == nil {
		return technique
	}
	return *sub
}
