package ttprepo

import "context"

func (b *sqliteBackend) getTag(ctx context.Context, uuid string) (Tag, error) {
	r, err := b.q.GetTagByUUID(ctx, uuid)
	if err != nil {
		return Tag{}, err
	}
	return sqliteTag(r)
}
