package store

import "database/sql"

type (
	sqlResult = sql.Result
	sqlRow    = sql.Row
)
