import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * The guide's Java client idea (POST a JSON message with
 * Accept: text/event-stream, handle the answer as it streams in) on Java 17's
 * built-in java.net.http.HttpClient: no Maven, no async-http-client, no
 * fastjson.
 *
 * The body is read line by line as bytes arrive (BodyHandlers.ofLines()), and
 * events are framed the way the SSE spec says: "field:value" lines, a blank
 * line ends an event. A message is never split or glued, however the
 * network chunks it (the guide's "lost and sticky packets").
 *
 *   javac -d out examples/java/HttpStreamClient.java
 *   java -cp out HttpStreamClient [URL] [MESSAGE]
 */
public class HttpStreamClient {
    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : "http://127.0.0.1:8080/chat?mode=chars&delay=100";
        String message = args.length > 1 ? args[1] : "Hello WOrld!";

        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .header("Accept", "text/event-stream")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"message\":" + jsonString(message) + "}"))
                .build();

        long start = System.nanoTime();
        HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
        System.out.println("status " + response.statusCode() + " "
                + response.headers().firstValue("content-type").orElse(""));
        if (response.statusCode() != 200) {
            response.body().forEach(System.out::println);
            System.exit(1);
        }

        // One event's fields, reset by every blank line.
        String[] event = {""};
        StringBuilder data = new StringBuilder();
        boolean[] hasData = {false};
        String[] lastId = {""};
        response.body().forEach(line -> {
            if (line.isEmpty()) {
                if (hasData[0]) {
                    long ms = (System.nanoTime() - start) / 1_000_000;
                    String type = event[0].isEmpty() ? "message" : event[0];
                    // One line per event, flushed at once, with the time it arrived.
                    System.out.println("+" + ms + "ms " + type + " id=" + lastId[0] + " " + jsonString(data.toString()));
                    System.out.flush();
                }
                event[0] = "";
                data.setLength(0);
                hasData[0] = false;
                return;
            }
            if (line.startsWith(":")) return; // a comment: heartbeat
            int colon = line.indexOf(':');
            String field = colon < 0 ? line : line.substring(0, colon);
            String value = colon < 0 ? "" : line.substring(colon + 1);
            if (value.startsWith(" ")) value = value.substring(1);
            switch (field) {
                case "event" -> event[0] = value;
                case "id" -> lastId[0] = value;
                case "data" -> {
                    if (hasData[0]) data.append('\n');
                    data.append(value);
                    hasData[0] = true;
                }
                default -> { }
            }
        });
        System.out.println("end");
    }

    /** A JSON string literal (enough for a chat message). */
    static String jsonString(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        return out.append('"').toString();
    }
}
