package dev.berth.ctl.cert;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;

/** Whether a private key belongs to a public key: sign a nonce with one, verify with the other. */
final class Keys {
  private Keys() {
  }

  static boolean matches(PrivateKey key, PublicKey pub) {
    try {
      byte[] nonce = new byte[32];
      new java.security.SecureRandom().nextBytes(nonce);
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(nonce);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(pub);
      v.update(nonce);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
