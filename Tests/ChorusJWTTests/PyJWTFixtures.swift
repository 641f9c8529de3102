// Written by make-pyjwt-fixtures.py; do not edit. The private keys were discarded.
enum PyJWTFixtures {
    static let secret = "pyjwt-fixtures-secret-0123456789abcdef"
    static let rsaPublicKeyPEM = """
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAy6HMyVfpcAi03msGiK1D
GMt+nz0gEVttQoBs6cK07atIVG4BkjAzyvsYZ/jyboXXfXCFv9Z5K4K64zKTgX62
2A+jd/a1G3hrVe4haX+UzqPv0FLg0EVGao6+Mq77L9sYq6H+M+m7nB8HcUziodND
v/oBvG52ipqooFZYtlJSo1W9pFI9mTnyn2C6bh3s8BzBUGfMyOaMZ4ZgIX4obVLt
IW2rWA5R+L0xzSJ5jM0oU9OliwJFM36bMNmRNY8V8/pw/HN2LdcV54RrWxbFTl2k
9RmEg4YWerbcjjixmdO4IIIa0NZ9ZuTi0drQnu7zQYM2ZaGD+ezBrkDdF4L2o8jO
JQIDAQAB
-----END PUBLIC KEY-----
"""
    static let ecPublicKeyPEM = """
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1OIReyHi+sA6mTdaqc4VkuVxNjUU
n4afVNU+UGDRlUFF/mMv+EgVZWlhcuYuBr8qNddQFRXYOcyd3FhFByz1ZA==
-----END PUBLIC KEY-----
"""
    static let jwks = #"{"keys": [{"kty": "RSA", "key_ops": ["verify"], "n": "y6HMyVfpcAi03msGiK1DGMt-nz0gEVttQoBs6cK07atIVG4BkjAzyvsYZ_jyboXXfXCFv9Z5K4K64zKTgX622A-jd_a1G3hrVe4haX-UzqPv0FLg0EVGao6-Mq77L9sYq6H-M-m7nB8HcUziodNDv_oBvG52ipqooFZYtlJSo1W9pFI9mTnyn2C6bh3s8BzBUGfMyOaMZ4ZgIX4obVLtIW2rWA5R-L0xzSJ5jM0oU9OliwJFM36bMNmRNY8V8_pw_HN2LdcV54RrWxbFTl2k9RmEg4YWerbcjjixmdO4IIIa0NZ9ZuTi0drQnu7zQYM2ZaGD-ezBrkDdF4L2o8jOJQ", "e": "AQAB", "kid": "rsa-1", "alg": "RS256", "use": "sig"}, {"kty": "RSA", "key_ops": ["verify"], "n": "y6HMyVfpcAi03msGiK1DGMt-nz0gEVttQoBs6cK07atIVG4BkjAzyvsYZ_jyboXXfXCFv9Z5K4K64zKTgX622A-jd_a1G3hrVe4haX-UzqPv0FLg0EVGao6-Mq77L9sYq6H-M-m7nB8HcUziodNDv_oBvG52ipqooFZYtlJSo1W9pFI9mTnyn2C6bh3s8BzBUGfMyOaMZ4ZgIX4obVLtIW2rWA5R-L0xzSJ5jM0oU9OliwJFM36bMNmRNY8V8_pw_HN2LdcV54RrWxbFTl2k9RmEg4YWerbcjjixmdO4IIIa0NZ9ZuTi0drQnu7zQYM2ZaGD-ezBrkDdF4L2o8jOJQ", "e": "AQAB", "kid": "ps-1", "alg": "PS256"}, {"kty": "EC", "crv": "P-256", "x": "1OIReyHi-sA6mTdaqc4VkuVxNjUUn4afVNU-UGDRlUE", "y": "Rf5jL_hIFWVpYXLmLga_KjXXUBUV2DnMndxYRQcs9WQ", "kid": "ec-1", "alg": "ES256"}, {"kty": "EC", "crv": "P-384", "x": "tKBKtSy9Fe62qrYAcEhL19uR4b3RM5XYVhnoIotjrxPDhqgqrWREoWAYPiuK8utQ", "y": "kRKEhcw4GapZC_1WlEgqch5nArixumPzBR7b92bGFGgHpqb1zBwYvpkG0UrKJhi0", "kid": "ec384-1"}, {"x": "Rmu0LEqKMCptJxCvtUrlkVg1yN44K9fDcvXNvMcTQL4", "kty": "OKP", "crv": "Ed25519", "kid": "ed-1"}]}"#
    static let hs256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.-u78QykNjjADeaF5EE5JDLBMwdKePWwXrg2tiIOaAaU"
    static let rs256 = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.yXvkX_5HW36kyYDSIq8-TWb5ZhlqTZ49YttLqoUCINAwJNrbQ3oocL1q_O4Chsl3mMPu2KbX4VTg7jyZ_YRkL2TXV9tyL1z99btug-JD-qoTDX2jPWPDIk_4wdf08MSbARSADIFPgR9WOGIqMX0FExT_SCAFuWazFWgZvOfKnoGSnvxxSpKT2yEYrDvdFg1W5WrDY0ruDn5Pd8vljMpSDp8MfTNz9xQhxhxRHuJGDky6ngYa9aN-PAFjUxBCbD6KHUAu6FtZ5iKSf0W0_brgml4y80-QPwWeBqa-qQdIPUN9ckXiHeojTowFDw4xNLzUipcvWubrpuxAr3TKPOVg2Q"
    static let es256 = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.AAF7uCE0MuXPlgyDpxvwwEitbStXsXwe2KJyzBKR6EZ7Sm3cakmtcR1WySBgKT0Z162ozqzM5Il1RZfoMW3a7w"
    static let rs256Kid = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIiwidHlwIjoiSldUIn0.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.gjSK3pr8DSvde-XSyi48kkuI4UZEewClSUE5t9Psw5ivs80wxcln4JJ1caJ6vDRYmFpa8Bmf9uPmzImVJTstwc7XSM50pXE6FuRlZri3Avd_5T35pDG6o1N0Rll3LW8F0_MALXb_jw6Yht623qfOjFl3uX_RPxZIVY0fuvt5ZUv9AnH-zbWO-7Ref47E-KP6IFj38POFiuA2nDkX-eQ1dbk8EFaewsxgDoeOHt1JAIjXu727rBR1G0tXjMKdqEVmZTzG-7ucAMO3rnKcPH2es7kfwUEWerG2v8svu258C9_y7JqI9LyUwOrMWtk89Hqes8gNpjO20mQSzsjFqZNCNg"
    static let ps256Kid = "eyJhbGciOiJQUzI1NiIsImtpZCI6InBzLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.jtYGIltQ5kjRRzKX4yI5-S4qkPptYcOiruDcvxj4Eb9xLLeJEeOJPM1C0Yd6EuA1DNwx7rEimdujo_7DrCWQSoQDGqssJcPdL1Qo98d1IDtjL0sffBVw2tf9RELnQU7L_OvqV-eQEXw9FU3xfBYNlvXsHuXShysT-AvuaGpwGKOpO-FTSOQEWpa0xT5Znm636k0VGQJRZ3R8bD76VRXzoQfhbgHW1UFIxDiGuwMW7vD0gLcX83WpgHIFJNIq9E7MT3omrrnCDzSRpMcIVMOZMFsDqR1unlbLAHBY_c27IqdUNSEF4GnXl7U3PdQ3AQ6De4RRqELydBwpAvA9IRQn3Q"
    static let es256Kid = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.Pyp9mlN05Nyq23IEV_6BtR74q4bFUHx_Kqnbqvl4W-9wRuJH-MyHd4m04XHeSDAVvCq-HbuIcuiWDm6qEd1N8g"
    static let es384Kid = "eyJhbGciOiJFUzM4NCIsImtpZCI6ImVjMzg0LTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.yKRzmpp90YnFzyBqVuoGCBFCDIEEoDX6iwF-R95c_-Rke3ywUhh4WNfNnuRgbYLDQogmbmPihogTvInfoafRCwHFkuKVKAbb3_rxNhBOVMftFzIbDm0amjgKl33bingi"
    static let edDSAKid = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkLTEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJweS11c2VyIiwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOlsiY2hvcnVzIiwib3RoZXIiXSwic3Vic2NyaWJlIjpbImdhbWUuKiJdfQ.RmO3YIuIlzoXdHz2BEDF4FurFnjrZ83wNV6gqlQClrxTw8N5gB8j-_6U3G4-LFyyqB0S7O-l6fWALKu5_RkXDw"
}
