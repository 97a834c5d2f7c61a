package document

import (
	"maps"
	"strconv"
)

// Document is one source text: a file, a web page, a package's
// documentation.
type Document struct {
	ID       string            `json:"id"`
	Text     string            `json:"text"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Node is a chunk of a Document, the unit that is embedded, retrieved and
// reranked. StartChar and EndChar are byte offsets into the document's Text,
// so Text == doc.Text[StartChar:EndChar].
type Node struct {
	ID        string            `json:"id"`
	DocID     string            `json:"doc_id"`
	Text      string            `json:"text"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	StartChar int               `json:"start_char"`
	EndChar   int               `json:"end_char"`
}

// NodeID is the identifier of the i-th (0-based) chunk of document docID.
// It is deterministic so that re-indexing the same documents gives the same
// IDs.
func NodeID(docID string, i int) string {
	return docID + "#" + strconv.Itoa(i)
}

// newNode builds the i-th node of d spanning d.Text[start:end].
func newNode(d Document, i, start, end int) Node {
	return Node{
		ID:        NodeID(d.ID, i),
		DocID:     d.ID,
		Text:      d.Text[start:end],
		Metadata:  maps.Clone(d.Metadata),
		StartChar: start,
		EndChar:   end,
	}
}
