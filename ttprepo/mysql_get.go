package ttprepo

import "context"

func (b *mysqlBackend) getTag(ctx context.Context, uuid string) (Tag, error) {
	r, err := b.q.GetTagByUUID(ctx, uuid)
	if err != nil {
		return Tag{}, err
	}
	return mysqlTag(r)
}
