package ttprepo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Navigator layer format written by [Store.NavigatorLayer]: MITRE ATT&CK
// Navigator layer file format 4.5
// (https://github.com/mitre-attack/attack-navigator, layers/LAYERFORMATv4_5.md).
// Its required fields are name, domain, versions.layer and
// versions.navigator, and techniqueID in each technique; a gradient needs
// at least two colors and maxValue above minValue.
const (
	NavigatorLayerVersion = "4.5"
	// NavigatorAppVersion is the Navigator release the layer is written
	// for; format 4.5 asks for 4.9.0 or later.
	NavigatorAppVersion = "5.1.0"
	NavigatorDomain     = "enterprise-attack"
)

// NavigatorLayer is an ATT&CK Navigator layer (format 4.5). Fields the
// store never sets are left out; the Navigator gives them defaults.
type NavigatorLayer struct {
	Name        string                `json:"name"`
	Versions    NavigatorVersions     `json:"versions"`
	Domain      string                `json:"domain"`
	Description string                `json:"description"`
	Sorting     int                   `json:"sorting"`
	Layout      NavigatorLayout       `json:"layout"`
	Techniques  []NavigatorTechnique  `json:"techniques"`
	Gradient    NavigatorGradient     `json:"gradient"`
	LegendItems []NavigatorLegendItem `json:"legendItems"`
	Metadata    []NavigatorMetadata   `json:"metadata"`
}

// NavigatorVersions names the layer format, Navigator and ATT&CK
// versions. Attack is empty, and left out, for a layer with no tags.
type NavigatorVersions struct {
	Attack    string `json:"attack,omitempty"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

// NavigatorLayout is how the Navigator draws the matrix.
type NavigatorLayout struct {
	Layout                string `json:"layout"`
	ShowID                bool   `json:"showID"`
	ShowName              bool   `json:"showName"`
	ExpandedSubtechniques string `json:"expandedSubtechniques"`
}

// NavigatorTechnique annotates one technique or sub-technique
// ("T1071.001") under every tactic it belongs to.
type NavigatorTechnique struct {
	TechniqueID       string              `json:"techniqueID"`
	Score             int64               `json:"score"`
	Comment           string              `json:"comment"`
	Enabled           bool                `json:"enabled"`
	ShowSubtechniques bool                `json:"showSubtechniques"`
	Metadata          []NavigatorMetadata `json:"metadata"`
}

// NavigatorGradient maps scores to colors.
type NavigatorGradient struct {
	Colors   []string `json:"colors"`
	MinValue int64    `json:"minValue"`
	MaxValue int64    `json:"maxValue"`
}

// NavigatorLegendItem is one line of the layer's legend.
type NavigatorLegendItem struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

// NavigatorMetadata is a name and value shown with a layer or technique.
type NavigatorMetadata struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Gradient colors: pale for a technique seen once, deep red for the most
// seen technique of the layer.
const (
	navigatorColorLow  = "#fee0d2"
	navigatorColorHigh = "#de2d26"
)

// NavigatorLayer builds an ATT&CK Navigator layer for a scope, or for the
// whole fleet with the zero Scope: one technique entry per technique and
// per sub-technique seen, scored by its tag count, with its first and
// last time seen in the comment. versions.attack is the major version of
// the tags' attack_release (the greatest, when the scope mixes releases,
// which the description then lists). A scope with no tags gives a valid
// layer with no techniques.
func (s *Store) NavigatorLayer(ctx context.Context, scope Scope) (NavigatorLayer, error) {
	if err := scope.check(true); err != nil {
		return NavigatorLayer{}, fmt.Errorf("navigator layer: %w", err)
	}
	rows, err := s.b.navigatorRows(ctx, scope)
	if err != nil {
		return NavigatorLayer{}, fmt.Errorf("navigator layer for %s: %w", scope, err)
	}
	return buildLayer(scope, rows), nil
}

func buildLayer(scope Scope, rows []navigatorRow) NavigatorLayer {
	// Fold the release groups of each technique into one entry; rows
	// arrive ordered by technique, sub-technique (none first), release.
	type entry struct {
		key         string
		count       int64
		first, last navigatorRow
		releases    []string
		hasSubs     bool
	}
	var entries []*entry
	byKey := map[string]*entry{}
	releases := map[string]bool{}
	for _, r := range rows {
		key := techniqueKey(r.techniqueID, r.subID)
		e := byKey[key]
		if e == nil {
			e = &entry{key: key, first: r, last: r}
			byKey[key] = e
			entries = append(entries, e)
		}
		e.count += r.count
		if r.firstSeen.Before(e.first.firstSeen) {
			e.first = r
		}
		if r.lastSeen.After(e.last.lastSeen) {
			e.last = r
		}
		e.releases = append(e.releases, r.release)
		releases[r.release] = true
		if r.subID != nil {
			if parent := byKey[r.techniqueID]; parent != nil {
				parent.hasSubs = true
			}
		}
	}

	layer := NavigatorLayer{
		Name:        "ttpstore " + scope.String(),
		Versions:    NavigatorVersions{Navigator: NavigatorAppVersion, Layer: NavigatorLayerVersion},
		Domain:      NavigatorDomain,
		Sorting:     3, // descending by score
		Layout:      NavigatorLayout{Layout: "side", ShowID: true, ShowName: true, ExpandedSubtechniques: "annotated"},
		Techniques:  make([]NavigatorTechnique, 0, len(entries)),
		Gradient:    NavigatorGradient{Colors: []string{navigatorColorLow, navigatorColorHigh}, MinValue: 1},
		LegendItems: []NavigatorLegendItem{},
		Metadata:    []NavigatorMetadata{{Name: "scope", Value: scope.String()}},
	}

	var maxCount int64
	for _, e := range entries {
		maxCount = max(maxCount, e.count)
		first := fmtLayerTime(e.first.firstSeen)
		last := fmtLayerTime(e.last.lastSeen)
		layer.Techniques = append(layer.Techniques, NavigatorTechnique{
			TechniqueID:       e.key,
			Score:             e.count,
			Comment:           fmt.Sprintf("%s; first seen %s; last seen %s", plural(e.count, "tag"), first, last),
			Enabled:           true,
			ShowSubtechniques: e.hasSubs,
			Metadata: []NavigatorMetadata{
				{Name: "tags", Value: strconv.FormatInt(e.count, 10)},
				{Name: "first_seen", Value: first},
				{Name: "last_seen", Value: last},
				{Name: "attack_release", Value: strings.Join(e.releases, ", ")},
			},
		})
	}

	// The gradient runs from one tag to the layer's highest count; the
	// Navigator needs maxValue above minValue even for a layer of ones.
	layer.Gradient.MaxValue = max(maxCount, layer.Gradient.MinValue+1)
	if len(entries) > 0 {
		layer.LegendItems = append(layer.LegendItems,
			NavigatorLegendItem{Label: "1 tag", Color: navigatorColorLow},
			NavigatorLegendItem{Label: plural(layer.Gradient.MaxValue, "tag"), Color: navigatorColorHigh},
		)
	}

	// versions.attack is a major version ("15" for "15.1").
	rel := slices.Sorted(func(yield func(string) bool) {
		for r := range releases {
			if !yield(r) {
				return
			}
		}
	})
	layer.Versions.Attack = newestMajor(rel)
	layer.Description = fmt.Sprintf("ATT&CK techniques tagged in %s: %d entries, score = tag count", scope, len(layer.Techniques))
	if len(rel) > 0 {
		layer.Description += "; attack_release " + strings.Join(rel, ", ")
		layer.Metadata = append(layer.Metadata, NavigatorMetadata{Name: "attack_release", Value: strings.Join(rel, ", ")})
	}
	return layer
}

// newestMajor returns the greatest major version among releases such as
// "15.1" and "9", compared as numbers, or "" when none has a numeric
// major version (a tag's attack_release may be empty): the layer then
// leaves versions.attack out and the Navigator assumes its current
// ATT&CK. Every release still shows in the layer's metadata.
func newestMajor(releases []string) string {
	best := -1
	for _, r := range releases {
		major, _, _ := strings.Cut(r, ".")
		if n, err := strconv.Atoi(major); err == nil && n >= 0 {
			best = max(best, n)
		}
	}
	if best < 0 {
		return ""
	}
	return strconv.Itoa(best)
}

func fmtLayerTime(t time.Time) string { return t.UTC().Format(sqliteTimeLayout) }

// plural renders "1 tag", "2 tags".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}
