//! The shared state backend: the PostgreSQL the tests run against.

use crate::support::pg;

/// Each test gets a database of its own on the one cluster: what one writes, another
/// never sees.
#[tokio::test(flavor = "multi_thread")]
async fn each_test_gets_its_own_database() {
    let (a, b) = (pg::database().await, pg::database().await);
    assert_ne!(a, b);
    let connect = |url: String| async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
    };
    let (a, b) = (connect(a).await, connect(b).await);
    a.batch_execute("CREATE TABLE marks (n int); INSERT INTO marks VALUES (7)")
        .await
        .unwrap();
    let n: i32 = a
        .query_one("SELECT n FROM marks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 7);
    let err = b.query_one("SELECT n FROM marks", &[]).await.unwrap_err();
    let db = err.as_db_error().expect("an error from the server");
    assert!(db.message().contains("does not exist"), "{db}");
}
