package ttprepo

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// tagNamespace is uuid5(NAMESPACE_URL, "decnet:ttp_tag:v1"), the namespace
// every tag id is derived in.
var tagNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("decnet:ttp_tag:v1"))

// TagUUID returns the deterministic id of a tag: a UUIDv5 in the tag
// namespace over "source_kind|source_id|rule_id|rule_version|technique_id|
// sub_technique_id". An empty subTechniqueID means none, so
// TagUUID(..., "T1110", "") is the id of a T1110 tag with no sub-technique.
func TagUUID(sourceKind, sourceID, ruleID string, ruleVersion int32, techniqueID, subTechniqueID string) string {
	name := strings.Join([]string{
		sourceKind, sourceID, ruleID,
		strconv.FormatInt(int64(ruleVersion), 10),
		techniqueID, subTechniqueID,
	}, "|")
	return uuid.NewSHA1(tagNamespace, []byte(name)).String()
}
