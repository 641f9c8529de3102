/// Keys the JWT harness configures the hub with. They were generated for fuzzing and protect
/// nothing; the EC private key is here so the harness can sign tokens that pass verification.
enum JWTFuzzKeys {
    static let secret = "chorus-fuzz-hs256-secret-0123456789abcdef"
    static let apiKey = "chorus-fuzz-api-key"

    /// `kid`-less RS256 key, for `jwt_public_key`; its private half was discarded.
    static let rsaPublicKeyPEM = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA431LVrhz6Isx8uR70lbT
        KvqoX1FD+tH6expTOyR7Jq6OIFKjZkIQ1NSJcSw2/STxwin0BsVU1VUIZYDJMgLv
        bhYKOdexCco2TgdthuxakMTIJ9gaCWkjAoB9yxBi0zMm9CZzbykG7YGa4KOIgI22
        ehH6U3ikJUSoYZy4zQI91dcB71Mj44EpnU7G0RISbZVUe+fsJXIoykH5KeP5lycQ
        +hGgd+5yNqiyOIE/RZry7HPCdlASdSh02taSq4RB30CqD/tauyt4xaIkF54FB4E/
        voaCfqeLLfV64HY+e6afMc1/43xEhPmvJnOcLpqkXMjh8fhk1X6GfdQ8Jtk1srw1
        VQIDAQAB
        -----END PUBLIC KEY-----
        """

    /// `kid`-less ES256 key; `jwt_public_key` gets its public half.
    static let ecPrivateKeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnu2CM0QbLey6zSNO
        HclZwjQYXrWHp/GGZunyKYZOmuGhRANCAAQmdAAHYntXiVDHumW4OvvlPyhZdr5z
        KySlN7gs4pR6cGBsI8vT5P8VLS+z2mneWcIsSC+S5t72AafYQ/s4++s8
        -----END PRIVATE KEY-----
        """

    /// The RSA key as `rsa-1` and the EC key as `ec-1`, for `jwks_file`.
    static let jwks = #"""
        {"keys": [{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": "431LVrhz6Isx8uR70lbTKvqoX1FD-tH6expTOyR7Jq6OIFKjZkIQ1NSJcSw2_STxwin0BsVU1VUIZYDJMgLvbhYKOdexCco2TgdthuxakMTIJ9gaCWkjAoB9yxBi0zMm9CZzbykG7YGa4KOIgI22ehH6U3ikJUSoYZy4zQI91dcB71Mj44EpnU7G0RISbZVUe-fsJXIoykH5KeP5lycQ-hGgd-5yNqiyOIE_RZry7HPCdlASdSh02taSq4RB30CqD_tauyt4xaIkF54FB4E_voaCfqeLLfV64HY-e6afMc1_43xEhPmvJnOcLpqkXMjh8fhk1X6GfdQ8Jtk1srw1VQ", "e": "AQAB"}, {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256", "x": "JnQAB2J7V4lQx7pluDr75T8oWXa-cyskpTe4LOKUenA", "y": "YGwjy9Pk_xUtL7Paad5ZwixIL5Lm3vYBp9hD-zj76zw"}]}
        """#
}
