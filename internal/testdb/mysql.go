package testdb

import (
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
)

func gormMySQL(dsn string) gorm.Dialector { return gormmysql.Open(dsn) }
