// The guide's message handler (消息处理类), as written; added: the imports, and in
// onBodyPartReceived (业务逻辑处理, "business logic here") a print of each body part
// with the time it arrived, and a print when the response completes.
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import org.asynchttpclient.AsyncHandler;
import org.asynchttpclient.HttpResponseBodyPart;
import org.asynchttpclient.HttpResponseStatus;
import org.asynchttpclient.Response;

public class DefaultMessageHandler implements AsyncHandler<Response> {
    @Override
    public State onStatusReceived(HttpResponseStatus httpResponseStatus) {
        return null;
    }

    @Override
    public State onHeadersReceived(HttpHeaders httpHeaders) {
        return null;
    }

    @Override
    public State onBodyPartReceived(HttpResponseBodyPart httpResponseBodyPart) {
        // 业务逻辑处理
        String part = new String(httpResponseBodyPart.getBodyPartBytes(), StandardCharsets.UTF_8);
        System.out.println(System.currentTimeMillis() + " part " + part.replace("\n", "\\n"));
        return State.CONTINUE;
    }

    @Override
    public void onThrowable(Throwable throwable) {
    }

    @Override
    public Response onCompleted() {
        System.out.println(System.currentTimeMillis() + " completed");
        return null;
    }
}
