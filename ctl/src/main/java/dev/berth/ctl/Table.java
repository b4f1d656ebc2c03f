package dev.berth.ctl;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Columns aligned as docker's tabwriter does (minimum width 10, padding 3); the last column is
 * not padded, so no line ends in blanks.
 */
final class Table {
  private final List<String[]> rows = new ArrayList<>();

  Table(String... header) {
    rows.add(header);
  }

  void add(String... row) {
    rows.add(row);
  }

  void print(PrintStream out) {
    int columns = rows.get(0).length;
    int[] width = new int[columns];
    for (String[] row : rows) {
      for (int i = 0; i < columns - 1; i++) {
        width[i] = Math.max(width[i], Math.max(10, row[i].codePointCount(0, row[i].length()) + 3));
      }
    }
    StringBuilder line = new StringBuilder(128);
    for (String[] row : rows) {
      line.setLength(0);
      for (int i = 0; i < columns; i++) {
        line.append(row[i]);
        if (i < columns - 1) {
          for (int pad = width[i] - row[i].codePointCount(0, row[i].length()); pad > 0; pad--) {
            line.append(' ');
          }
        }
      }
      out.println(line);
    }
  }
}
