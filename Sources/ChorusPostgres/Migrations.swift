/// The shared store's schema, one migration after another. This list is the registry: a later
/// feature (event bus, sync collections, push subscriptions, …) appends its migration with the
/// next version, and never edits one that has shipped (docs/deployment.md, "PostgreSQL").
extension Migration {
    /// Every migration of the shared store, in version order.
    public static let all: [Migration] = [
        // The cluster's identity, made once by whichever node migrates first (`/api/nodes` can
        // show it): one row, enforced by a primary key that can only be true.
        Migration(version: 1, name: "cluster", statements: [
            """
            CREATE TABLE chorus_cluster (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "INSERT INTO chorus_cluster (id) VALUES (gen_random_uuid()::text)",
        ]),
    ]
}
