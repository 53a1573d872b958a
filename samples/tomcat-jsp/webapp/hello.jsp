<%@ page contentType="text/plain; charset=UTF-8" %>
<% int sum = 0; for (int i = 1; i <= 10; i++) { sum += i; } %>
hello from JSP: <%= sum %>
