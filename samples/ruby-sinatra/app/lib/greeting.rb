# The greeting the index route serves.
module Greeting
  def self.hello(name)
    "hello, #{name}\n"
  end
end
