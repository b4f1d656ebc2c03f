package dev.berth.ctl.cert;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** PEM: DER blocks in Base64 between {@code -----BEGIN TYPE-----} and {@code -----END TYPE-----} lines. */
final class Pem {
  private Pem() {
  }

  static String encode(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  /**
   * The blocks of {@code type} in {@code file}, in order; throws an IOException naming the file
   * when it holds none or a block is not Base64.
   */
  static List<byte[]> read(Path file, String type) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IOException(file + ": no such file");
    }
    String begin = "-----BEGIN " + type + "-----";
    String end = "-----END " + type + "-----";
    List<byte[]> out = new ArrayList<>();
    int from = 0;
    while (true) {
      int b = text.indexOf(begin, from);
      if (b < 0) {
        break;
      }
      int e = text.indexOf(end, b);
      if (e < 0) {
        throw new IOException(file + ": \"" + begin + "\" without its END line");
      }
      try {
        out.add(Base64.getMimeDecoder().decode(text.substring(b + begin.length(), e)));
      } catch (IllegalArgumentException bad) {
        throw new IOException(file + ": a " + type + " block is not valid Base64");
      }
      from = e + end.length();
    }
    if (out.isEmpty()) {
      throw new IOException(file + " holds no " + type + " in PEM");
    }
    return out;
  }
}
