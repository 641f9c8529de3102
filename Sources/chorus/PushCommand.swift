import ChorusPush

/// `chorus push keys`: a new VAPID key pair, as the configuration lines that enable Web Push.
enum PushCommand {
    static let usage = """
        Usage: chorus push keys

          Prints a new VAPID key pair (P-256) as environment lines for the hub's configuration:
          CHORUS_PUSH_VAPID_PUBLIC_KEY (the browser's applicationServerKey, also served at
          GET /api/push/key) and CHORUS_PUSH_VAPID_PRIVATE_KEY (keep it secret). Set
          CHORUS_PUSH_VAPID_SUBJECT to a mailto: or https: contact as well (docs/pwa.md).
        """

    static func run(_ arguments: [String]) throws {
        guard arguments == ["keys"] else { throw CommandError(Self.usage) }
        let keys = VAPIDKeys()
        print("CHORUS_PUSH_VAPID_PUBLIC_KEY=\(keys.publicKeyText)")
        print("CHORUS_PUSH_VAPID_PRIVATE_KEY=\(keys.privateKeyText)")
    }
}
