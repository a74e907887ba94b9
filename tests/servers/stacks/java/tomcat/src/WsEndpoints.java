// JSR-356 (Jakarta WebSocket 2.1) endpoints for Tomcat 10.1, compiled by run_tomcat.py.
// /ws    : origin check through ServerEndpointConfig.Configurator.checkOrigin (allows only
//          http://allowed.example); Tomcat answers a refused origin with 403.
// /proto : offers only subprotocol chat.v2 (@ServerEndpoint(subprotocols = ...)).
// /      : a plain servlet that opens a session (JSESSIONID cookie).
import jakarta.servlet.annotation.WebServlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.websocket.OnMessage;
import jakarta.websocket.server.ServerEndpoint;
import jakarta.websocket.server.ServerEndpointConfig;
import java.io.IOException;

public class WsEndpoints {

    public static class OriginCheck extends ServerEndpointConfig.Configurator {
        @Override
        public boolean checkOrigin(String originHeaderValue) {
            return "http://allowed.example".equals(originHeaderValue);
        }
    }

    @ServerEndpoint(value = "/ws", configurator = OriginCheck.class)
    public static class Echo {
        @OnMessage
        public String echo(String message) {
            return message;
        }
    }

    @ServerEndpoint(value = "/proto", subprotocols = {"chat.v2"})
    public static class Proto {
        @OnMessage
        public String echo(String message) {
            return message;
        }
    }

    @WebServlet("")
    public static class Home extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
            req.getSession(true);
            resp.setContentType("text/plain");
            resp.getWriter().write("tomcat test page\n");
        }
    }
}
