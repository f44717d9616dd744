package io.github.arelu.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.NumberFormat;
import java.text.ParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quick start does what it prints, and the examples' README shows exactly its code. */
class QuickStartTest {

    private static final Path SOURCE = Path.of("src/main/java/io/github/arelu/examples/QuickStart.java");
    private static final Path README = Path.of("README.md");
    private static final String BEGIN = "// README:begin\n";
    private static final String END = "// README:end\n";

    @TempDir
    Path directory;

    @Test
    void trainsSavesLoadsAndPredictsTheSame() throws Exception {
        Path checkpoint = directory.resolve("quickstart.pt");
        String output = runMain(checkpoint.toString());

        double firstLoss = number(output, "step 1: loss (\\S+)");
        double lastLoss = number(output, "step 300: loss (\\S+)");
        assertTrue(lastLoss < firstLoss / 4, "loss should fall from " + firstLoss + " well below a quarter: " + lastLoss);

        Matcher trained = find(output, "trained: alpha (\\S+), beta (\\S+), test accuracy (\\S+) %");
        Matcher loaded = find(output, "loaded:  alpha (\\S+), beta (\\S+), test accuracy (\\S+) %, same predictions: (\\w+)");
        assertTrue(parse(trained.group(3)) > 90, "test accuracy of the trained model: " + trained.group(3));
        // Training moved alpha and beta away from their initial values, and the checkpoint carried them over.
        assertNotEquals(0.9, parse(trained.group(1)), 1e-3, "alpha was trained");
        assertNotEquals(2.0, parse(trained.group(2)), 1e-3, "beta was trained");
        assertEquals(trained.group(1), loaded.group(1), "loaded alpha");
        assertEquals(trained.group(2), loaded.group(2), "loaded beta");
        assertEquals(trained.group(3), loaded.group(3), "loaded model's accuracy");
        assertEquals("true", loaded.group(4), "loaded model's predictions equal the trained model's");
        assertTrue(Files.size(checkpoint) > 0, "checkpoint written");
        assertTrue(Pattern.compile("memory allocator: (tcmalloc|glibc malloc)").matcher(output).find(), output);
    }

    @Test
    void readmeShowsTheQuickStartExactly() throws IOException {
        String source = Files.readString(SOURCE);
        int begin = source.indexOf(BEGIN);
        int end = source.indexOf(END);
        assertTrue(begin >= 0 && end > begin, SOURCE + " lacks the README markers");
        String snippet = "```java\n" + source.substring(begin + BEGIN.length(), end) + "```\n";
        assertTrue(Files.readString(README).contains(snippet), README + " must show the code between the markers in "
                + SOURCE + " verbatim, as one java block; copy it from there:\n" + snippet);
    }

    private static String runMain(String... args) throws Exception {
        PrintStream standardOut = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            QuickStart.main(args);
        } finally {
            System.setOut(standardOut);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    private static Matcher find(String output, String regex) {
        Matcher matcher = Pattern.compile(regex).matcher(output);
        assertTrue(matcher.find(), "no line matching '" + regex + "' in:\n" + output);
        return matcher;
    }

    private static double number(String output, String regex) throws ParseException {
        return parse(find(output, regex).group(1));
    }

    /** The quick start prints with printf, so in the default locale's format (0,25 in some). */
    private static double parse(String number) throws ParseException {
        return NumberFormat.getInstance(Locale.getDefault(Locale.Category.FORMAT)).parse(number).doubleValue();
    }
}
