-- Core schema for ttpstore on SQLite.
--
-- Length limits are written as CHECK constraints so that SQLite refuses the
-- same values MySQL's VARCHAR columns refuse (see migrations/mysql): a tag
-- one backend accepts is never refused by the other. Timestamps are stored
-- as fixed-width RFC 3339 text in UTC with microseconds, so they sort
-- lexically in time order and read back exactly.

-- +goose Up
CREATE TABLE campaigns (
    uuid TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) BETWEEN 1 AND 64)
) STRICT;

CREATE TABLE attacker_identities (
    uuid        TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) BETWEEN 1 AND 64),
    campaign_id TEXT REFERENCES campaigns (uuid) ON DELETE SET NULL
) STRICT;

-- Serves: campaign rollups (identities of a campaign).
CREATE INDEX attacker_identities_campaign ON attacker_identities (campaign_id);

CREATE TABLE attackers (
    uuid        TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) BETWEEN 1 AND 64),
    ip          TEXT NOT NULL CHECK (length(ip) <= 64),
    identity_id TEXT REFERENCES attacker_identities (uuid) ON DELETE SET NULL
) STRICT;

-- Serves: identity and campaign rollups (attackers of an identity).
CREATE INDEX attackers_identity ON attackers (identity_id);

CREATE TABLE ttp_tag (
    uuid             TEXT NOT NULL PRIMARY KEY CHECK (length(uuid) BETWEEN 1 AND 64),
    source_kind      TEXT NOT NULL CHECK (length(source_kind) BETWEEN 1 AND 64),
    source_id        TEXT NOT NULL CHECK (length(source_id) <= 512),
    attacker_uuid    TEXT REFERENCES attackers (uuid) ON DELETE CASCADE,
    identity_uuid    TEXT REFERENCES attacker_identities (uuid) ON DELETE CASCADE,
    session_id       TEXT CHECK (length(session_id) <= 128),
    decky_id         TEXT CHECK (length(decky_id) <= 128),
    tactic           TEXT NOT NULL CHECK (length(tactic) <= 16),
    technique_id     TEXT NOT NULL CHECK (length(technique_id) <= 16),
    sub_technique_id TEXT CHECK (length(sub_technique_id) <= 16),
    confidence       REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    rule_id          TEXT NOT NULL CHECK (length(rule_id) BETWEEN 1 AND 64),
    rule_version     INTEGER NOT NULL CHECK (rule_version BETWEEN 0 AND 2147483647),
    evidence         TEXT NOT NULL CHECK (json_valid(evidence) AND json_type(evidence) = 'object'),
    attack_release   TEXT NOT NULL CHECK (length(attack_release) <= 32),
    mitre_url        TEXT NOT NULL CHECK (length(mitre_url) <= 512),
    created_at       TEXT NOT NULL CHECK (length(created_at) = 27 AND created_at GLOB
        '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CHECK (attacker_uuid IS NOT NULL OR identity_uuid IS NOT NULL)
) STRICT;

-- Serves: ListTechniquesByIdentity, ListDeckyPhasesByIdentity,
-- ListIdentityTechniqueTagsPage and NavigatorByIdentity (tags anchored on
-- the identity), and the identity half of the campaign queries. Partial: most
-- tags are anchored on an attacker only, and a query for identity_uuid = ?
-- never needs the NULL rows, so leaving them out spares most inserts one
-- B-tree write. (MySQL has no partial indexes; its twin keeps them.)
-- The columns after created_at make it covering for the identity and
-- campaign rollups, which then never read the table's rows.
CREATE INDEX ttp_tag_identity ON ttp_tag (identity_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, uuid)
    WHERE identity_uuid IS NOT NULL;

-- Serves: ListTechniquesByAttacker, the attacker half of the identity and
-- campaign scopes, and the attacker's newest-first tag pages. Covering for
-- the same rollups as ttp_tag_identity; identity_uuid is there for their
-- "not already counted" filter.
CREATE INDEX ttp_tag_attacker ON ttp_tag (attacker_uuid, created_at, technique_id, sub_technique_id, tactic, confidence, identity_uuid, uuid);

-- Serves: ListTechniquesBySession, ListSessionTechniqueTagsPage and
-- NavigatorBySession.
CREATE INDEX ttp_tag_session ON ttp_tag (session_id, created_at);

-- Serves: the delete trigger's recomputation of a technique's last_seen,
-- and fleet-wide drill-down by technique.
CREATE INDEX ttp_tag_technique ON ttp_tag (technique_id, sub_technique_id, tactic, created_at);

-- Serves: CountTagsBefore and DeleteTagsBeforeBatch (retention walks the
-- oldest tags first).
CREATE INDEX ttp_tag_created ON ttp_tag (created_at);

-- Fleet-wide technique counts, kept exact by the triggers below so that
-- ListDistinctTechniques reads a few hundred rows instead of the tag table.
-- '' stands for "no sub-technique" because a primary key column cannot be
-- NULL on MySQL and both dialects keep the same shape.
CREATE TABLE ttp_technique_stats (
    technique_id     TEXT NOT NULL,
    sub_technique_id TEXT NOT NULL,
    tactic           TEXT NOT NULL,
    tag_count        INTEGER NOT NULL,
    last_seen        TEXT NOT NULL,
    PRIMARY KEY (technique_id, sub_technique_id, tactic)
) STRICT;

-- +goose Down
DROP TABLE ttp_technique_stats;
DROP TABLE ttp_tag;
DROP TABLE attackers;
DROP TABLE attacker_identities;
DROP TABLE campaigns;
