// Package tests holds the suites that run every store operation against
// each backend: SQLite always, MySQL/MariaDB when TTP_TEST_MYSQL_DSN is
// set (a go-sql-driver DSN without a database name, such as
// "root@tcp(127.0.0.1:3306)/"). Each test creates its own database and
// drops it afterwards. With TTP_REQUIRE_MYSQL=1 a missing or unreachable
// MySQL server fails the suite instead of skipping its MySQL leg.
package tests
